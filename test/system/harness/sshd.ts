// A real OpenSSH sshd on 127.0.0.1 for system tests (needs root): own config, host key,
// port, pid file and log in `dir`. Stopped by pid (its per-connection children too).
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { lookupUser } from './accounts.js';
import { freePort } from './ports.js';
import { isAlive, runOk, spawnDaemon, terminate, waitFor } from './proc.js';

export interface SshdOptions {
  dir: string;
  port?: number;
  /** sshd's MaxSessions (channels per connection); OpenSSH's default is 10. */
  maxSessions?: number;
  /** Further sshd_config lines, appended last (Match blocks belong here). */
  extraConfig?: string[];
}

export interface Sshd {
  port: number;
  pid: number;
  dir: string;
  /** The host key's public line (`ssh-ed25519 AAAA... comment`). */
  hostKeyPub: string;
  /** `[127.0.0.1]:PORT ssh-ed25519 AAAA...` for a known_hosts file. */
  knownHostsLine(): string;
  /** Pids of the per-connection sshd processes (children of the listener), each with its descendants. */
  sessionProcesses(): { pid: number; descendants: number[] }[];
  /**
   * Breaks one client connection the way a crash would: SIGKILLs the sshd process that
   * holds its socket (the deepest sshd under the per-connection child). Commands it ran
   * are orphaned, not killed.
   */
  dropConnection(sessionPid: number): Promise<void>;
  logs(): string;
  stop(): Promise<void>;
}

const SSHD = '/usr/sbin/sshd';

function children(): Map<number, number[]> {
  const map = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      map.set(ppid, [...(map.get(ppid) ?? []), Number(name)]);
    } catch {
      /* exited meanwhile */
    }
  }
  return map;
}

function descendantsOf(pid: number, tree: Map<number, number[]>): number[] {
  const out: number[] = [];
  for (const c of tree.get(pid) ?? []) out.push(c, ...descendantsOf(c, tree));
  return out;
}

function exeOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return null;
  }
}

/** True once `pid` was reaped (gone from /proc) or can never be (orphaned to init). */
function reapedOrOrphaned(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === 1;
  } catch {
    return true;
  }
}

/**
 * SIGKILLs `pid`'s subtree leaves first, each reaped by its still-living parent before
 * that parent is killed: killing a parent first orphans its children to init, which in
 * some containers never reaps them (defunct entries in ps).
 */
async function killBottomUp(pid: number): Promise<void> {
  for (const c of children().get(pid) ?? []) await killBottomUp(c);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitFor(() => reapedOrOrphaned(pid), { timeoutMs: 5_000, intervalMs: 20 }).catch(() => {});
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

export async function startSshd(opts: SshdOptions): Promise<Sshd> {
  const dir = path.resolve(opts.dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  if (!existsSync(hostKey)) await runOk(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'hpc-bridge-test-host', '-f', hostKey]);
  const port = opts.port ?? (await freePort());
  const conf = path.join(dir, 'sshd_config');
  const log = path.join(dir, 'sshd.log');
  const lines = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    'UsePAM no',
    'PermitRootLogin no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'AuthorizedKeysFile .ssh/authorized_keys',
    'StrictModes yes',
    `MaxSessions ${opts.maxSessions ?? 10}`,
    'MaxStartups 50:30:100',
    'X11Forwarding no',
    'PrintMotd no',
    'LogLevel VERBOSE',
    ...(opts.extraConfig ?? []),
  ];
  writeFileSync(conf, `${lines.join('\n')}\n`, { mode: 0o600 });
  await runOk([SSHD, '-t', '-f', conf]);
  const pid = spawnDaemon([SSHD, '-D', '-f', conf, '-E', log], { cwd: dir, logFile: path.join(dir, 'sshd.stdout') });
  await waitFor(async () => !isAlive(pid) || (await accepts(port)), {
    timeoutMs: 10_000,
    intervalMs: 50,
    onTimeout: () => `sshd on port ${port} did not start: ${readFileSync(log, 'utf8')}`,
  });
  if (!isAlive(pid)) throw new Error(`sshd exited at start: ${existsSync(log) ? readFileSync(log, 'utf8') : ''}`);
  const hostKeyPub = readFileSync(`${hostKey}.pub`, 'utf8').trim();

  return {
    port,
    pid,
    dir,
    hostKeyPub,
    knownHostsLine: () => `[127.0.0.1]:${port} ${hostKeyPub.split(' ').slice(0, 2).join(' ')}`,
    sessionProcesses() {
      const tree = children();
      return (tree.get(pid) ?? []).map((c) => ({ pid: c, descendants: descendantsOf(c, tree) }));
    },
    async dropConnection(sessionPid: number) {
      let holder = sessionPid;
      for (;;) {
        const next = (children().get(holder) ?? []).find((c) => exeOf(c) === SSHD);
        if (next === undefined) break;
        holder = next;
      }
      process.kill(holder, 'SIGKILL');
      await waitFor(() => reapedOrOrphaned(holder), { timeoutMs: 5_000, intervalMs: 20 }).catch(() => {});
    },
    logs: () => (existsSync(log) ? readFileSync(log, 'utf8') : ''),
    async stop() {
      // sessions whose client has gone end by themselves; kill the rest leaves first
      await waitFor(() => (children().get(pid) ?? []).length === 0, { timeoutMs: 2_000, intervalMs: 50 }).catch(() => {});
      for (const c of children().get(pid) ?? []) await killBottomUp(c);
      await terminate(pid);
    },
  };
}

/**
 * Writes ~user/.ssh/authorized_keys (dir 0700, file 0600, owned by the user) with the
 * given lines (`ssh-ed25519 AAAA... comment`, optionally with key options in front).
 */
export async function authorizeKey(user: string, ...pubKeyLines: string[]): Promise<string> {
  const u = await lookupUser(user);
  if (!u) throw new Error(`authorizeKey: no such user ${user}`);
  const sshDir = path.join(u.home, '.ssh');
  mkdirSync(sshDir, { recursive: true, mode: 0o700 });
  chmodSync(sshDir, 0o700);
  chownSync(sshDir, u.uid, u.gid);
  const file = path.join(sshDir, 'authorized_keys');
  writeFileSync(file, `${pubKeyLines.map((l) => l.trim()).join('\n')}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  chownSync(file, u.uid, u.gid);
  return file;
}

/** A fresh ed25519 key pair without passphrase: { privateKeyFile (0600), publicKey line }. */
export async function makeClientKey(file: string, comment = 'hpc-bridge-test-client'): Promise<{ privateKeyFile: string; publicKey: string }> {
  await runOk(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  return { privateKeyFile: file, publicKey: readFileSync(`${file}.pub`, 'utf8').trim() };
}
