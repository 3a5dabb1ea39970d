// Unprivileged local accounts for system tests (needs root).
import { run, sleep } from './proc.js';

export interface UserInfo {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface GroupInfo {
  name: string;
  gid: number;
}

const NAME = /^[a-z_][a-z0-9_-]{0,30}$/;

/** The passwd entry of `name`, or null. */
export async function lookupUser(name: string): Promise<UserInfo | null> {
  const r = await run(['getent', 'passwd', name]);
  if (r.code !== 0) return null;
  const f = r.stdout.trim().split('\n')[0]?.split(':') ?? [];
  if (f.length < 7) return null;
  return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
}

export async function lookupGroup(name: string): Promise<GroupInfo | null> {
  const r = await run(['getent', 'group', name]);
  if (r.code !== 0) return null;
  const f = r.stdout.trim().split(':');
  return f.length >= 3 ? { name: f[0]!, gid: Number(f[2]) } : null;
}

/** Retries commands that fail on /etc/passwd lock contention with a parallel test. */
async function retry(argv: string[], okCodes: number[]): Promise<void> {
  let last = '';
  for (let i = 0; i < 20; i++) {
    const r = await run(argv);
    if (r.code !== null && okCodes.includes(r.code)) return;
    last = r.stderr.trim();
    await sleep(100 + i * 50);
  }
  throw new Error(`${argv.join(' ')}: ${last}`);
}

/**
 * Creates a system user (`useradd -m -s /bin/bash`) unless it exists, and sets its
 * shadow password field to `*` (no password, but not locked: sshd accepts keys).
 * Idempotent; safe to call from parallel tests.
 */
export async function ensureUser(name: string, opts: { home?: string; groups?: string[] } = {}): Promise<UserInfo> {
  if (!NAME.test(name)) throw new Error(`ensureUser: bad user name ${JSON.stringify(name)}`);
  if (!(await lookupUser(name))) {
    const argv = ['useradd', '-m', '-s', '/bin/bash'];
    if (opts.home) argv.push('-d', opts.home);
    if (opts.groups?.length) argv.push('-G', opts.groups.join(','));
    argv.push('--', name);
    // 9 = name already in use (created concurrently)
    await retry(argv, [0, 9]);
  } else if (opts.groups?.length) {
    await retry(['usermod', '-a', '-G', opts.groups.join(','), '--', name], [0]);
  }
  await retry(['usermod', '-p', '*', '--', name], [0]);
  const u = await lookupUser(name);
  if (!u) throw new Error(`ensureUser: ${name} missing after useradd`);
  return u;
}

/** Creates a system group unless it exists (`groupadd -f`). */
export async function ensureGroup(name: string): Promise<GroupInfo> {
  if (!NAME.test(name)) throw new Error(`ensureGroup: bad group name ${JSON.stringify(name)}`);
  if (!(await lookupGroup(name))) await retry(['groupadd', '-f', '--', name], [0, 9]);
  const g = await lookupGroup(name);
  if (!g) throw new Error(`ensureGroup: ${name} missing after groupadd`);
  return g;
}

/**
 * Runs argv as `user` through `runuser -u USER -- argv...` (argv array, no shell).
 * cwd defaults to the user's home, so files like slurm-%j.out land somewhere the
 * user can write. `env` is passed through (runuser keeps it, resets HOME/USER/...).
 */
export async function runAs(
  user: string,
  argv: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; input?: string } = {},
) {
  const u = await lookupUser(user);
  if (!u) throw new Error(`runAs: no such user ${user}`);
  return run(['runuser', '-u', user, '--', ...argv], {
    env: opts.env,
    cwd: opts.cwd ?? u.home,
    timeoutMs: opts.timeoutMs,
    input: opts.input,
  });
}
