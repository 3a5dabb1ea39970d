// Host key verification for the SSH transport: the ssh2 hostVerifier built on a
// KnownHosts file, the refusal messages (which say what to do), and fetching a server's
// key once for `hpc-bridge cluster trust`.
import ssh2 from 'ssh2';
import { algorithmsForKeyType, fingerprint, keyBlobType, type HostKeyCheck } from '../../contract/known-hosts.js';
import type { KnownHosts } from './known-hosts-file.js';
import { TransportError } from './types.js';

export interface HostKeyTarget {
  host: string;
  port: number;
  user: string;
  knownHosts: KnownHosts;
  /** For the message's `hpc-bridge --config <file>`; null when unknown. */
  configFile: string | null;
}

const DEFAULT_HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
];

/** Host key algorithms with the types known_hosts already holds for the host first (as OpenSSH orders them). */
export function hostKeyAlgorithms(target: HostKeyTarget): string[] {
  const known = target.knownHosts.knownKeyTypes(target.host, target.port).flatMap(algorithmsForKeyType);
  const first = known.filter((a) => DEFAULT_HOST_KEY_ALGORITHMS.includes(a));
  return [...new Set([...first, ...DEFAULT_HOST_KEY_ALGORITHMS])];
}

export function trustCommand(configFile: string | null): string {
  return `hpc-bridge --config ${configFile ?? '<hub-bridge.yaml>'} cluster trust`;
}

function describeKey(blob: Buffer): string {
  let type = 'unknown-type';
  try {
    type = keyBlobType(blob);
  } catch {
    /* shown as unknown */
  }
  return `${type} ${fingerprint(blob)}`;
}

/** The message of a refused host key: what was presented, what is known, what to do. */
export function refusalMessage(check: Exclude<HostKeyCheck, { status: 'trusted' }>, blob: Buffer, t: HostKeyTarget): string {
  const where = `${t.host}:${t.port}`;
  const file = `${t.knownHosts.file} (cluster.transport.knownHostsFile)`;
  const fp = fingerprint(blob);
  switch (check.status) {
    case 'unknown':
      return (
        `the SSH host key of ${where} is not known: the server presented ${describeKey(blob)}, which is not in ${file}. ` +
        `Verify this fingerprint out of band (on the login node: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), ` +
        `then trust it with: ${trustCommand(t.configFile)} --fingerprint ${fp}`
      );
    case 'changed': {
      const known = check.known.map((e) => `${e.keyType} ${fingerprint(e.key)} (line ${e.line})`).join(', ');
      return (
        `WARNING: the SSH host key of ${where} has CHANGED. The server presented ${describeKey(blob)}, but ${file} ` +
        `holds ${known} for it. This may be an attack (someone intercepting the connection to the cluster), or the ` +
        `login node's key was replaced. The connection is refused and nothing is trusted automatically: ask the ` +
        `cluster's administrators for the new fingerprint; only if it matches, delete the old line(s) from the file ` +
        `and run cluster trust again.`
      );
    }
    case 'revoked':
      return `the SSH host key ${describeKey(blob)} of ${where} is marked @revoked in ${file} (line ${check.entry.line}): refused`;
  }
}

/**
 * An ssh2 hostVerifier that accepts only a key known_hosts trusts. A refusal is
 * recorded through `onRefused` so the connection error can carry the full message
 * instead of ssh2's bare "Host denied".
 */
export function makeHostVerifier(t: HostKeyTarget, onRefused: (err: TransportError) => void): (key: Buffer) => boolean {
  return (key: Buffer) => {
    let check: HostKeyCheck;
    try {
      check = t.knownHosts.check(t.host, t.port, key);
    } catch (err) {
      onRefused(new TransportError(`cannot read ${t.knownHosts.file} (cluster.transport.knownHostsFile): ${(err as Error).message}`));
      return false;
    }
    if (check.status === 'trusted') return true;
    onRefused(new TransportError(refusalMessage(check, key, t)));
    return false;
  };
}

/**
 * Connects once and returns the server's host key after the key exchange proved that
 * the server holds the matching private key (the 'handshake' event). No login needed.
 */
export function fetchHostKey(t: HostKeyTarget, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let key: Buffer | null = null;
    let done = false;
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      client.end();
      if (err || !key) reject(err ?? new Error('the server sent no host key'));
      else resolve(key);
    };
    client.on('handshake', () => finish(null));
    client.on('error', (err) => finish(new Error(`cannot fetch the host key of ${t.host}:${t.port}: ${err.message}`)));
    client.on('close', () => finish(new Error(`${t.host}:${t.port} closed the connection before the key exchange finished`)));
    client.connect({
      host: t.host,
      port: t.port,
      username: t.user,
      readyTimeout: timeoutMs,
      algorithms: { serverHostKey: hostKeyAlgorithms(t) as never },
      hostVerifier: (k: Buffer) => {
        key = Buffer.from(k);
        return true;
      },
      // no credentials: authentication would fail, but we close after the handshake
      authHandler: () => false,
    } as ssh2.ConnectConfig);
  });
}
