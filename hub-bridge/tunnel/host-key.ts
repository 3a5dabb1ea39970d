// The tunnel endpoint's own SSH host key: made on the bridge's first start (ed25519,
// OpenSSH format, mode 0600 in a 0700 directory) and read on every later one. Jobs pin
// its public half (the startjob document's tunnel.hostKeys), so an agent talks to nobody
// but this bridge. It is NOT the host key of the system sshd: the endpoint is a separate
// SSH server on its own port.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import ssh2 from 'ssh2';
import { generateTunnelKey } from './tunnel-keys.js';

export interface EndpointHostKey {
  /** OpenSSH private key text: SECRET (only handed to ssh2). */
  privateKey: string;
  /** `ssh-ed25519 AAAA…`: what the jobs pin. */
  publicKey: string;
  /** `SHA256:…` of the public key, as ssh-keygen -l prints it. */
  fingerprint: string;
}

export class HostKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostKeyError';
  }
}

export function fingerprintOf(publicKey: string): string {
  const blob = Buffer.from(publicKey.split(' ')[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Parses the key file's text; throws HostKeyError naming the file (never its content). */
export function parseHostKey(text: string, file: string): EndpointHostKey {
  const parsed = ssh2.utils.parseKey(text);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error || key.isPrivateKey() !== true) {
    throw new HostKeyError(`${file} (tunnel.hostKeyFile) is not an unencrypted OpenSSH private key; move it away and restart the bridge to make a new one`);
  }
  const publicKey = `${key.type} ${key.getPublicSSH().toString('base64')}`;
  return { privateKey: text, publicKey, fingerprint: fingerprintOf(publicKey) };
}

/** Reads the key, refusing a file that other accounts could read. */
export function readHostKey(file: string): EndpointHostKey {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new HostKeyError(`cannot read the tunnel host key ${file} (tunnel.hostKeyFile): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new HostKeyError(`${file} (tunnel.hostKeyFile) is not a regular file`);
    if ((st.mode & 0o077) !== 0) {
      throw new HostKeyError(`the tunnel host key ${file} has mode ${(st.mode & 0o777).toString(8)}: other accounts may read it; run chmod 600 ${file}`);
    }
    // root (doctor run by an administrator) may check a key the bridge's account owns
    if (typeof process.getuid === 'function' && process.getuid() !== 0 && st.uid !== process.getuid()) {
      throw new HostKeyError(`the tunnel host key ${file} belongs to uid ${st.uid}, not to the account running hpc-bridge (uid ${process.getuid()}); chown it`);
    }
    return parseHostKey(readFileSync(fd, 'utf8'), file);
  } finally {
    closeSync(fd);
  }
}

/** The key in `file`, made (0600, directory 0700) when the file does not exist yet. */
export function loadOrCreateHostKey(file: string): { key: EndpointHostKey; created: boolean } {
  if (existsSync(file)) return { key: readHostKey(file), created: false };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const pair = generateTunnelKey();
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    // another process made it in the meantime: use that one
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { key: readHostKey(file), created: false };
    throw new HostKeyError(`cannot create the tunnel host key ${file} (tunnel.hostKeyFile): ${(err as Error).message}`);
  }
  try {
    writeSync(fd, pair.privateKey);
  } finally {
    closeSync(fd);
  }
  return { key: parseHostKey(pair.privateKey, file), created: true };
}
