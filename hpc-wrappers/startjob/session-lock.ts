// One submission per session: the first startjob creates `submit.lock` exclusively
// (O_EXCL); a concurrent call waits until the first wrote `jobid` (and returns that id)
// or gave up (then it tries itself). A lock whose owner died is taken over.
import { closeSync, existsSync, linkSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { WrapError } from '../errors.js';
import { isRecord, unlinkQuiet } from '../json-files.js';
import { pidAlive } from '../schedulers/process-identity.js';

export interface LockOwner {
  pid: number;
  host: string;
  time: number;
}

export type LockOutcome = { kind: 'acquired'; release: () => void } | { kind: 'done'; jobId: string };

export interface SessionLockOptions {
  lockFile: string;
  jobIdFile: string;
  /** A lock older than this is stale whatever its owner (e.g. a dead login node). */
  staleAfterMs: number;
  /** How long a second caller waits for the first. */
  waitMs: number;
  pollMs?: number;
}

export function readJobId(file: string): string | null {
  try {
    const id = readFileSync(file, 'utf8').trim();
    return id || null;
  } catch {
    return null;
  }
}

function readOwner(file: string): LockOwner | null {
  try {
    const v: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (isRecord(v) && typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.time === 'number') {
      return { pid: v.pid, host: v.host, time: v.time };
    }
  } catch {
    /* missing, or being written right now */
  }
  return null;
}

function tryCreate(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), time: Date.now() } satisfies LockOwner));
  } finally {
    closeSync(fd);
  }
  return true;
}

function isStale(owner: LockOwner | null, lockFile: string, staleAfterMs: number): boolean {
  if (owner === null) {
    // Unreadable: being written (fresh) or garbage; only its age can tell.
    return false;
  }
  if (Date.now() - owner.time > staleAfterMs) return true;
  return owner.host === hostname() && !pidAlive(owner.pid) && existsSync(lockFile);
}

export async function acquireSessionLock(opts: SessionLockOptions): Promise<LockOutcome> {
  const poll = opts.pollMs ?? 100;
  const deadline = Date.now() + opts.waitMs;
  for (;;) {
    const existing = readJobId(opts.jobIdFile);
    if (existing) return { kind: 'done', jobId: existing };
    if (tryCreate(opts.lockFile)) {
      // The first caller may have finished between our check and our create.
      const late = readJobId(opts.jobIdFile);
      if (late) {
        unlinkQuiet(opts.lockFile);
        return { kind: 'done', jobId: late };
      }
      return { kind: 'acquired', release: () => unlinkQuiet(opts.lockFile) };
    }
    const owner = readOwner(opts.lockFile);
    if (isStale(owner, opts.lockFile, opts.staleAfterMs)) {
      // Move it aside (atomic; only one taker wins) and try again.
      const aside = `${opts.lockFile}.stale-${process.pid}`;
      try {
        renameSync(opts.lockFile, aside);
      } catch {
        continue; // another caller took it over first
      }
      const moved = readOwner(aside);
      if (moved && owner && (moved.pid !== owner.pid || moved.time !== owner.time)) {
        // We raced with a taker and moved its fresh lock: put it back unless a new one exists.
        try {
          linkSync(aside, opts.lockFile);
        } catch {
          /* a newer lock exists; it wins */
        }
      }
      unlinkQuiet(aside);
      continue;
    }
    if (Date.now() > deadline) {
      throw new WrapError('internal', `another startjob for this session is still submitting (lock ${opts.lockFile}); try again later`);
    }
    await sleep(poll);
  }
}
