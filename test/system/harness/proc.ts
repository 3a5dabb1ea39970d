// Process helpers for the system-test harness. Everything is spawned with argv
// arrays (never through a shell) and stopped by pid, never by name.
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time in milliseconds. */
  ms: number;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  input?: string;
}

/** Runs argv[0] with argv[1..]; never throws for a non-zero exit (check `code`). */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('run: empty argv');
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      {
        env: opts.env ?? process.env,
        cwd: opts.cwd,
        timeout: opts.timeoutMs ?? 60_000,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: unknown; signal?: NodeJS.Signals }) | null;
        if (e && typeof e.code === 'string') {
          reject(new Error(`${cmd}: ${e.message}`));
          return;
        }
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout,
          stderr,
          ms: Date.now() - started,
        });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Like run() but throws with stderr when the exit code is not 0. */
export async function runOk(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    throw new Error(`${argv.join(' ')} exited ${r.code ?? r.signal}: ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r;
}

/**
 * Starts a long-running process detached from us (own process group), stdout and
 * stderr appended to `logFile`. Returns its pid. The process survives our exit.
 */
export function spawnDaemon(
  argv: readonly string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; logFile: string },
): number {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('spawnDaemon: empty argv');
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
    child.on('error', () => {});
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** True when the pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export function readPidFile(file: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  } catch {
    return null;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value; throws `onTimeout()` after timeoutMs. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: { timeoutMs: number; intervalMs?: number; onTimeout?: () => string },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(opts.onTimeout?.() ?? `timed out after ${opts.timeoutMs} ms`);
    await sleep(opts.intervalMs ?? 250);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** SIGTERM, wait up to graceMs, then SIGKILL and wait until the pid is gone. */
export async function terminate(pid: number, graceMs = 5_000): Promise<void> {
  if (!isAlive(pid)) return;
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (!isAlive(pid)) return;
  signal(pid, 'SIGKILL');
  const hard = Date.now() + 5_000;
  while (isAlive(pid) && Date.now() < hard) await sleep(50);
  if (isAlive(pid)) throw new Error(`pid ${pid} survived SIGKILL`);
}

/** Last `lines` lines of a text file ('' when missing). */
export function tail(file: string, lines = 30): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n');
}

function ppidOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return null;
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** True when the process's cwd is `dir` or inside it, or its argv mentions `dir/`. */
export function belongsToDir(pid: number, dir: string): boolean {
  const root = path.resolve(dir);
  try {
    const cwd = readlinkSync(`/proc/${pid}/cwd`);
    if (cwd === root || cwd.startsWith(root + '/')) return true;
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((a) => a.includes(root + '/'));
  } catch {
    return false;
  }
}

/**
 * Pids (other than us and our ancestors) whose cwd lies in `dir`, plus all their
 * descendants. This is how leftovers such as slurmstepd (which inherits slurmd's
 * cwd) and the jobs under them are found without looking at process names.
 */
export function processesInDir(dir: string): number[] {
  const protect = new Set<number>();
  for (let p: number | null = process.pid; p && p > 1 && !protect.has(p); p = ppidOf(p)) protect.add(p);
  const pids = allPids();
  const parent = new Map<number, number>();
  for (const p of pids) {
    const pp = ppidOf(p);
    if (pp !== null) parent.set(p, pp);
  }
  const root = path.resolve(dir);
  const owned = new Set<number>();
  for (const p of pids) {
    if (protect.has(p) || !isAlive(p)) continue;
    try {
      const cwd = readlinkSync(`/proc/${p}/cwd`);
      if (cwd === root || cwd.startsWith(root + '/')) owned.add(p);
    } catch {
      /* gone or not ours to read */
    }
  }
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of pids) {
      const pp = parent.get(p);
      if (pp !== undefined && owned.has(pp) && !owned.has(p) && !protect.has(p)) {
        owned.add(p);
        grew = true;
      }
    }
  }
  return [...owned].filter(isAlive);
}

/** SIGKILLs everything processesInDir() finds and waits until it is gone. */
export async function killProcessesInDir(dir: string): Promise<number[]> {
  const pids = processesInDir(dir);
  for (const p of pids) signal(p, 'SIGKILL');
  await waitFor(() => pids.every((p) => !isAlive(p)), { timeoutMs: 10_000, intervalMs: 50 }).catch(() => {});
  return pids;
}
