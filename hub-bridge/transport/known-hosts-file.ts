// The hub's known_hosts file for the login node (the SSH transport): read afresh for every
// check, appended to by `hpc-bridge cluster trust`. The format itself is contract/known-hosts.ts.
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { checkHostKey, hostsFieldMatches, knownHostsLine, parseKnownHosts, type HostKeyCheck, type KnownHostEntry } from '../../contract/known-hosts.js';

/** A known_hosts file on disk, read afresh for every check (so `cluster trust` takes effect at once). */
export class KnownHosts {
  constructor(readonly file: string) {}

  entries(): KnownHostEntry[] {
    if (!existsSync(this.file)) return [];
    return parseKnownHosts(readFileSync(this.file, 'utf8'));
  }

  check(host: string, port: number, blob: Buffer): HostKeyCheck {
    return checkHostKey(this.entries(), host, port, blob);
  }

  /** Key types already trusted for the host, so that the handshake asks for those first. */
  knownKeyTypes(host: string, port: number): string[] {
    const types = this.entries()
      .filter((e) => e.marker === null && hostsFieldMatches(e.hosts, host, port))
      .map((e) => e.keyType);
    return [...new Set(types)];
  }

  /** Appends the host's key (file 0600, a created directory 0700). */
  append(host: string, port: number, blob: Buffer): string {
    const line = knownHostsLine(host, port, blob);
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const existing = existsSync(this.file) ? readFileSync(this.file, 'utf8') : '';
    const sep = existing && !existing.endsWith('\n') ? '\n' : '';
    appendFileSync(this.file, `${sep}${line}\n`, { mode: 0o600 });
    if ((statSync(this.file).mode & 0o077) !== 0) chmodSync(this.file, 0o600);
    return line;
  }
}
