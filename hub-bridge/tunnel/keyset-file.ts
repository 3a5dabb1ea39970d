// The keyset: the per-job tunnel keys that are valid right now, kept by the bridge in one
// JSON file and read by the AuthorizedKeysCommand on every SSH login of the tunnel account.
// It holds only public keys and ports (mode 0644: sshd runs the command as `nobody`), but
// whoever can WRITE it can grant tunnels, so the reader refuses a file (or a directory
// above it) that anyone but root or the bridge's account could write.
//
// No dependencies beyond node:fs/node:path: the AuthorizedKeysCommand must start fast.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface TunnelKeyEntry {
  /** `<type> <base64 blob>`, e.g. `ssh-ed25519 AAAA…`. */
  publicKey: string;
  /** The hub-side loopback port this key may listen on (permitlisten). */
  port: number;
  /** ISO 8601; the key is refused from then on, even if the bridge is down. */
  expiresAt: string;
  sessionId: string;
}

export interface TunnelKeyset {
  version: 1;
  /** The hub API port on 127.0.0.1 that every key may open (permitopen). */
  apiPort: number;
  keys: TunnelKeyEntry[];
}

export class KeysetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeysetError';
  }
}

const KEY_TYPES = new Set(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa']);
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const SESSION_ID = /^s-[a-z2-7]{26}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const MAX_BYTES = 8 * 1024 * 1024;

const isPort = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;

/** True when `type` + `blob64` is a well-formed SSH public key whose blob names the same type. */
export function isPublicKey(type: string, blob64: string): boolean {
  if (!KEY_TYPES.has(type) || !BASE64.test(blob64) || blob64.length > 4096) return false;
  const blob = Buffer.from(blob64, 'base64');
  if (blob.length < 4) return false;
  const len = blob.readUInt32BE(0);
  return 4 + len <= blob.length && blob.subarray(4, 4 + len).toString('latin1') === type;
}

function entryProblem(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'is not an object';
  const e = v as Record<string, unknown>;
  const parts = typeof e.publicKey === 'string' ? e.publicKey.split(' ') : [];
  if (parts.length !== 2 || !isPublicKey(parts[0]!, parts[1]!)) return 'publicKey must be "<type> <base64>" of an SSH public key';
  if (!isPort(e.port)) return 'port must be an integer 1-65535';
  if (typeof e.expiresAt !== 'string' || !ISO.test(e.expiresAt) || Number.isNaN(Date.parse(e.expiresAt))) return 'expiresAt must be an ISO 8601 time';
  if (typeof e.sessionId !== 'string' || !SESSION_ID.test(e.sessionId)) return 'sessionId must be a session id (s- and 26 base32 characters)';
  return null;
}

/** Checks a parsed keyset; unknown extra fields are ignored (a newer bridge may add some). */
export function validateKeyset(v: unknown): TunnelKeyset {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new KeysetError('the keyset is not a JSON object');
  const k = v as Record<string, unknown>;
  if (k.version !== 1) throw new KeysetError('the keyset has no "version": 1');
  if (!isPort(k.apiPort)) throw new KeysetError('apiPort must be an integer 1-65535');
  if (!Array.isArray(k.keys)) throw new KeysetError('keys must be an array');
  const keys: TunnelKeyEntry[] = [];
  k.keys.forEach((e, i) => {
    const problem = entryProblem(e);
    if (problem) throw new KeysetError(`keys[${i}]: ${problem}`);
    const { publicKey, port, expiresAt, sessionId } = e as TunnelKeyEntry;
    keys.push({ publicKey, port, expiresAt, sessionId });
  });
  return { version: 1, apiPort: k.apiPort, keys };
}

/**
 * Replaces `file` atomically: a temporary sibling is written, fsynced and renamed over it,
 * so a reader sees the old or the new set, never a partial one. Mode 0644.
 */
export function writeKeyset(file: string, keyset: TunnelKeyset): void {
  const valid = validateKeyset(keyset);
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    writeSync(fd, `${JSON.stringify(valid, null, 1)}\n`);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
  // make the rename itself durable
  const dfd = openSync(dirname(file), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

export interface ReadKeysetOptions {
  /** Uids that may own the file and the directories above it (root is always allowed). */
  owners?: readonly number[];
  /** Check ownership and write permissions (default true). */
  checkPermissions?: boolean;
}

function who(uid: number, owners: ReadonlySet<number>): string {
  return `uid ${uid}, not ${[...owners].map((o) => (o === 0 ? 'root' : `uid ${o}`)).join(' or ')}`;
}

/** Refuses directories above the keyset that another account could write (sticky dirs such as /tmp excepted). */
function checkAncestors(real: string, owners: ReadonlySet<number>): void {
  for (let dir = dirname(real); ; dir = dirname(dir)) {
    const st = statSync(dir);
    if (!owners.has(st.uid)) throw new KeysetError(`the directory ${dir} above the keyset is owned by ${who(st.uid, owners)}`);
    if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
      throw new KeysetError(`the directory ${dir} above the keyset is group- or world-writable (mode ${(st.mode & 0o7777).toString(8)})`);
    }
    if (dir === dirname(dir)) return;
  }
}

/** Reads and validates the keyset; throws KeysetError saying what is wrong (never a key). */
export function readKeyset(file: string, opts: ReadKeysetOptions = {}): TunnelKeyset {
  const owners = new Set([0, ...(opts.owners ?? [])]);
  const check = opts.checkPermissions ?? true;
  let fd: number;
  let real: string;
  try {
    real = realpathSync(file);
    fd = openSync(real, 'r');
  } catch (err) {
    throw new KeysetError(`cannot open the keyset ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new KeysetError(`the keyset ${file} is not a regular file`);
    if (check) {
      if (!owners.has(st.uid)) throw new KeysetError(`the keyset ${file} is owned by ${who(st.uid, owners)}`);
      if ((st.mode & 0o022) !== 0) throw new KeysetError(`the keyset ${file} is group- or world-writable (mode ${(st.mode & 0o7777).toString(8)})`);
      checkAncestors(real, owners);
    }
    if (st.size > MAX_BYTES) throw new KeysetError(`the keyset ${file} is larger than ${MAX_BYTES} bytes`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(buf.subarray(0, off).toString('utf8'));
    } catch {
      throw new KeysetError(`the keyset ${file} is not valid JSON`);
    }
    try {
      return validateKeyset(parsed);
    } catch (err) {
      throw new KeysetError(`the keyset ${file} is not valid: ${(err as Error).message}`);
    }
  } finally {
    closeSync(fd);
  }
}
