// `hpc-bridge cluster trust`: fetch the login node's host key once, show its fingerprint,
// and record it in cluster.transport.knownHostsFile only when the admin confirmed it
// (--fingerprint that matches, or --yes). A changed key is never replaced here.
import type { SshTransportConfig } from '../../config/schema.js';
import { fingerprint, keyBlobType } from '../../contract/known-hosts.js';
import { KnownHosts } from './known-hosts-file.js';
import { fetchHostKey, refusalMessage, trustCommand, type HostKeyTarget } from './ssh-host-key.js';

export interface TrustOptions {
  yes: boolean;
  fingerprint: string | null;
  configFile: string | null;
  out(text: string): void;
}

/** Exit codes of `cluster trust`. */
export const TRUST_EXIT = { trusted: 0, error: 1, usage: 2, unverified: 3, refused: 4 } as const;

const FINGERPRINT_RE = /^SHA256:[A-Za-z0-9+/]{43}$/;

export async function trustClusterHost(cfg: SshTransportConfig, opts: TrustOptions): Promise<number> {
  const given = opts.fingerprint?.trim().replace(/=+$/, '') ?? null;
  if (given !== null && !FINGERPRINT_RE.test(given)) {
    opts.out(`--fingerprint ${JSON.stringify(opts.fingerprint)} is not a SHA256 fingerprint (SHA256: followed by 43 base64 characters, as ssh-keygen -lf prints it)\n`);
    return TRUST_EXIT.usage;
  }
  const knownHosts = new KnownHosts(cfg.knownHostsFile);
  const target: HostKeyTarget = { host: cfg.host, port: cfg.port, user: cfg.user, knownHosts, configFile: opts.configFile };
  let key: Buffer;
  try {
    key = await fetchHostKey(target, cfg.connectTimeoutSeconds * 1000);
  } catch (err) {
    opts.out(`${(err as Error).message}\n`);
    return TRUST_EXIT.error;
  }
  const fp = fingerprint(key);
  opts.out(`${cfg.host}:${cfg.port} presents the host key ${keyBlobType(key)} ${fp}\n`);

  const check = knownHosts.check(cfg.host, cfg.port, key);
  if (check.status === 'trusted') {
    opts.out(`already trusted (line ${check.entry.line} of ${cfg.knownHostsFile}); nothing changed\n`);
    return TRUST_EXIT.trusted;
  }
  if (check.status !== 'unknown') {
    opts.out(`${refusalMessage(check, key, target)}\n`);
    return TRUST_EXIT.refused;
  }
  if (given !== null && given !== fp) {
    opts.out(
      `NOT trusted: the server presents ${fp}, not the fingerprint you gave (${given}). ` +
        `Either you checked another host's key, or someone is intercepting the connection.\n`,
    );
    return TRUST_EXIT.refused;
  }
  if (given === null && !opts.yes) {
    opts.out(
      `Not trusted yet. Verify this fingerprint out of band (on the login node: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub, ` +
        `or ask the cluster's administrators), then re-run:\n  ${trustCommand(opts.configFile)} --fingerprint ${fp}\n`,
    );
    return TRUST_EXIT.unverified;
  }
  const line = knownHosts.append(cfg.host, cfg.port, key);
  opts.out(`trusted: appended to ${cfg.knownHostsFile}:\n  ${line}\n`);
  return TRUST_EXIT.trusted;
}
