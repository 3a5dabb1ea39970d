// An OpenSSH known_hosts file: parsing, host matching (plain, [host]:port, comma lists,
// wildcards, negation, hashed |1|salt|hash entries), SHA256 fingerprints and the check
// of a server's host key. No trust-on-first-use: an unknown key is refused by the caller.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface KnownHostEntry {
  /** 1-based line number in the file. */
  line: number;
  marker: '@revoked' | '@cert-authority' | null;
  hosts: string;
  keyType: string;
  key: Buffer;
}

export type HostKeyCheck =
  | { status: 'trusted'; entry: KnownHostEntry }
  | { status: 'unknown' }
  | { status: 'changed'; known: KnownHostEntry[] }
  | { status: 'revoked'; entry: KnownHostEntry };

/** The name OpenSSH looks up: `host` on port 22, else `[host]:port`. */
export function hostPattern(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** The key type named inside an SSH public key blob (its first string). */
export function keyBlobType(blob: Buffer): string {
  if (blob.length < 4) throw new Error('not an SSH public key blob (too short)');
  const len = blob.readUInt32BE(0);
  if (len < 1 || len > 64 || 4 + len > blob.length) throw new Error('not an SSH public key blob (bad type length)');
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** OpenSSH's fingerprint: `SHA256:` + unpadded base64 of the SHA-256 of the key blob. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The line `cluster trust` appends: `<host or [host]:port> <type> <base64>`. */
export function knownHostsLine(host: string, port: number, blob: Buffer): string {
  return `${hostPattern(host, port)} ${keyBlobType(blob)} ${blob.toString('base64')}`;
}

/** Host key algorithms (ssh2 names) that produce keys of `keyType`. */
export function algorithmsForKeyType(keyType: string): string[] {
  if (keyType === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256'];
  return [keyType];
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${body}$`, 'i');
}

function hashedMatch(entry: string, name: string): boolean {
  const [, magic, salt64, hash64] = entry.split('|');
  if (magic !== '1' || !salt64 || !hash64) return false;
  const salt = Buffer.from(salt64, 'base64');
  const want = Buffer.from(hash64, 'base64');
  const got = createHmac('sha1', salt).update(name).digest();
  return want.length === got.length && timingSafeEqual(want, got);
}

/** True when the hosts field of a known_hosts line names `host` on `port`. */
export function hostsFieldMatches(field: string, host: string, port: number): boolean {
  const name = hostPattern(host, port);
  if (field.startsWith('|')) return hashedMatch(field, name);
  let matched = false;
  for (const raw of field.split(',')) {
    if (!raw) continue;
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    if (globToRegExp(pattern).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** Parses known_hosts text; lines that are not valid entries are skipped (as OpenSSH does). */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((rawLine, i) => {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'] = null;
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as KnownHostEntry['marker'];
    const [hosts, keyType, key64] = fields;
    if (!hosts || !keyType || !key64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(key64)) return;
    const key = Buffer.from(key64, 'base64');
    try {
      if (keyBlobType(key) !== keyType) return;
    } catch {
      return;
    }
    entries.push({ line: i + 1, marker, hosts, keyType, key });
  });
  return entries;
}

/** OpenSSH's decision for a presented key: revoked > trusted > changed (same host, other key) > unknown. */
export function checkHostKey(entries: readonly KnownHostEntry[], host: string, port: number, blob: Buffer): HostKeyCheck {
  const revoked = entries.find((e) => e.marker === '@revoked' && e.key.equals(blob));
  if (revoked) return { status: 'revoked', entry: revoked };
  const forHost = entries.filter((e) => e.marker === null && hostsFieldMatches(e.hosts, host, port));
  const same = forHost.find((e) => e.key.equals(blob));
  if (same) return { status: 'trusted', entry: same };
  // A different key for this host, of this type or (a possible downgrade) of another one.
  if (forHost.length > 0) return { status: 'changed', known: forHost };
  return { status: 'unknown' };
}
