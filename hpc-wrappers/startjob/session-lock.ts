// One submission per session: the first startjob takes `submit.lock` (lock-file.ts); a
// concurrent call waits until the first wrote `jobid` (and returns that id) or gave up
// (then it tries itself). A lock whose owner died is taken over.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { WrapError } from '../errors.js';
import { isRecord, unlinkQuiet } from '../json-files.js';
import { readJsonOwner, releaseLockFile, tryLockFile } from '../lock-file.js';
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
  return readJsonOwner(file, (v): v is LockOwner => isRecord(v) && typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.time === 'number');
}

/** Stale: older than staleAfterMs whatever its owner (a dead login node), or its process on this host is gone. */
function isStale(owner: LockOwner | null, staleAfterMs: number): boolean {
  if (owner === null) return false; // unreadable: being written (fresh) or garbage; only its age can tell
  if (Date.now() - owner.time > staleAfterMs) return true;
  return owner.host === hostname() && !pidAlive(owner.pid);
}

export async function acquireSessionLock(opts: SessionLockOptions): Promise<LockOutcome> {
  const poll = opts.pollMs ?? 100;
  const deadline = Date.now() + opts.waitMs;
  const owner: LockOwner = { pid: process.pid, host: hostname(), time: Date.now() };
  for (;;) {
    const existing = readJobId(opts.jobIdFile);
    if (existing) return { kind: 'done', jobId: existing };
    const attempt = tryLockFile(opts.lockFile, { owner, readOwner, isStale: (o) => isStale(o, opts.staleAfterMs), what: 'the submit lock' });
    if (attempt.kind === 'acquired') {
      // The first caller may have finished between our check and our create.
      const late = readJobId(opts.jobIdFile);
      if (late) {
        unlinkQuiet(opts.lockFile);
        return { kind: 'done', jobId: late };
      }
      return { kind: 'acquired', release: () => releaseLockFile(opts.lockFile, readOwner, (o) => o.pid === owner.pid && o.time === owner.time) };
    }
    if (Date.now() > deadline) {
      throw new WrapError('internal', `another startjob for this session is still submitting (lock ${opts.lockFile}); try again later`);
    }
    await sleep(poll);
  }
}
