// sshd's AuthorizedKeysCommand for the tunnel account:
//   AuthorizedKeysCommand /usr/bin/node /opt/hpc-bridge/dist/hpc-bridge-authorized-keys.mjs --keyset FILE %u %t %k
// prints ONE authorized_keys line for a presented key that a live job owns, else nothing.
// The line lets the key do exactly one thing besides opening the hub API port: listen on
// its own hub-side loopback port. `command=` makes any shell, exec or subsystem request
// run /usr/sbin/nologin instead (`restrict` alone does not stop them).
//
// Imports only node built-ins (through keyset-file.ts): sshd runs this on every login.
import { readFileSync } from 'node:fs';
import { isPublicKey, KeysetError, readKeyset, type TunnelKeyset } from './keyset-file.js';

export const FORCED_COMMAND = '/usr/sbin/nologin';
export const DEFAULT_TUNNEL_USER = 'tunnelbot';

/** The key options for a key that may listen on 127.0.0.1:port and open 127.0.0.1:apiPort. */
export function keyOptions(port: number, apiPort: number): string {
  return `restrict,port-forwarding,permitlisten="127.0.0.1:${port}",permitopen="127.0.0.1:${apiPort}",command="${FORCED_COMMAND}"`;
}

export interface PresentedKey {
  /** %u: the account being logged into. */
  user: string;
  /** %t: the key type, e.g. ssh-ed25519. */
  keyType: string;
  /** %k: the base64 key blob. */
  key: string;
}

/** The authorized_keys line for a presented key, or null when it is not a live tunnel key. */
export function authorizedKeysLine(keyset: TunnelKeyset, presented: PresentedKey, tunnelUser: string, now = Date.now()): string | null {
  if (presented.user !== tunnelUser) return null;
  if (!isPublicKey(presented.keyType, presented.key)) return null;
  const wanted = `${presented.keyType} ${presented.key}`;
  const entry = keyset.keys.find((e) => e.publicKey === wanted && Date.parse(e.expiresAt) > now);
  return entry ? `${keyOptions(entry.port, keyset.apiPort)} ${wanted}` : null;
}

export interface AuthorizedKeysArgs {
  keysetFile: string;
  tunnelUser: string;
  /** Uids besides root that may own the keyset (the bridge's account). */
  owners: number[];
  presented: PresentedKey;
}

export class UsageError extends Error {}

export const USAGE =
  'usage: hpc-bridge-authorized-keys --keyset FILE [--tunnel-user USER] [--owner USER|UID]... USER TYPE KEY\n' +
  '  (sshd_config: AuthorizedKeysCommand /usr/bin/node <this file> --keyset FILE %u %t %k)\n';

/** A uid from a number or an account name in /etc/passwd. */
export function resolveOwner(value: string, passwd = '/etc/passwd'): number {
  if (/^\d{1,10}$/.test(value)) return Number(value);
  let text = '';
  try {
    text = readFileSync(passwd, 'utf8');
  } catch {
    /* handled below */
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === value && f[2] && /^\d+$/.test(f[2])) return Number(f[2]);
  }
  throw new UsageError(`--owner ${JSON.stringify(value)}: no such account in ${passwd} (give a numeric uid)`);
}

export function parseAuthorizedKeysArgv(argv: readonly string[]): AuthorizedKeysArgs {
  let keysetFile: string | null = null;
  let tunnelUser = DEFAULT_TUNNEL_USER;
  const owners: number[] = [];
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a === '--keyset') keysetFile = value();
    else if (a === '--tunnel-user') tunnelUser = value();
    else if (a === '--owner') owners.push(resolveOwner(value()));
    else if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
    else positional.push(a);
  }
  if (!keysetFile) throw new UsageError('--keyset FILE is required');
  if (positional.length !== 3) throw new UsageError(`expected USER TYPE KEY (sshd's %u %t %k), got ${positional.length} argument(s)`);
  const [user, keyType, key] = positional as [string, string, string];
  return { keysetFile, tunnelUser, owners, presented: { user, keyType, key } };
}

export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
}

/**
 * Runs the decision; returns the exit status. A keyset that is missing, unreadable,
 * malformed or writable by others makes every key invalid (nothing printed, one line on
 * stderr, status 0 as sshd expects from a command that found no key).
 */
export function runAuthorizedKeys(args: AuthorizedKeysArgs, io: CommandIo, now = Date.now()): number {
  if (args.presented.user !== args.tunnelUser) return 0; // not ours: do not even read the keyset
  let keyset: TunnelKeyset;
  try {
    keyset = readKeyset(args.keysetFile, { owners: args.owners });
  } catch (err) {
    const msg = err instanceof KeysetError ? err.message : `cannot read the keyset: ${(err as Error).message}`;
    io.err(`hpc-bridge authorized-keys: ${msg}; no tunnel key is valid\n`);
    return 0;
  }
  const line = authorizedKeysLine(keyset, args.presented, args.tunnelUser, now);
  if (line) io.out(`${line}\n`);
  return 0;
}

/** argv → exit status, for the tiny entry and `hpc-bridge authorized-keys`. */
export function authorizedKeysMain(argv: readonly string[], io: CommandIo): number {
  let args: AuthorizedKeysArgs;
  try {
    args = parseAuthorizedKeysArgv(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`hpc-bridge authorized-keys: ${err.message}\n${USAGE}`);
    return 2;
  }
  return runAuthorizedKeys(args, io);
}
