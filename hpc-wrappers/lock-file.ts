// The one lock-file helper: a file created with O_EXCL that holds its owner as JSON. A lock
// whose owner is gone (the caller judges: a dead pid on this host, an old mtime …) is taken
// over by moving it aside atomically — only one taker wins — and a fresh lock moved by a
// slower taker is put back. Used for startjob's one-submission-per-session lock and the
// overlay image lease.
import { closeSync, linkSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { unlinkQuiet } from './json-files.js';

export interface LockFileOptions<Owner> {
  /** Written into the file when we take it. */
  owner: Owner;
  /** The owner record in a lock file, or null (missing, unreadable, being written). */
  readOwner(file: string): Owner | null;
  /** May this lock be taken over? `owner` null = unreadable; mtimeMs = the file's last change. */
  isStale(owner: Owner | null, mtimeMs: number): boolean;
  mode?: number;
  /** How the lock is named in an error (e.g. "the overlay lease"). */
  what?: string;
}

export type LockAttempt<Owner> = { kind: 'acquired' } | { kind: 'held'; owner: Owner | null };

function tryCreate(file: string, owner: unknown, mode: number, what: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new Error(`cannot create ${what} ${file}: ${(err as Error).message}`);
  }
  try {
    writeSync(fd, JSON.stringify(owner));
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Takes the lock now if it is free or stale; else says who holds it. Never waits. */
export function tryLockFile<Owner>(file: string, opts: LockFileOptions<Owner>): LockAttempt<Owner> {
  const mode = opts.mode ?? 0o600;
  const what = opts.what ?? 'the lock';
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(file, opts.owner, mode, what)) return { kind: 'acquired' };
    let st;
    try {
      st = statSync(file);
    } catch {
      continue; // released between our create and our look: try again
    }
    const owner = opts.readOwner(file);
    if (!opts.isStale(owner, st.mtimeMs)) return { kind: 'held', owner };
    // Move the stale lock aside (atomic: one taker wins), then check that what we moved is
    // the lock we judged, not a fresh one a faster taker created meanwhile.
    const aside = `${file}.stale-${process.pid}-${Date.now()}`;
    try {
      renameSync(file, aside);
    } catch {
      continue;
    }
    let movedIno: number | null = null;
    try {
      movedIno = statSync(aside).ino;
    } catch {
      /* ignore */
    }
    if (movedIno !== st.ino) {
      try {
        linkSync(aside, file); // put the fresh lock back (fails if yet another exists: it wins)
      } catch {
        /* a newer lock exists */
      }
    }
    unlinkQuiet(aside);
  }
  return { kind: 'held', owner: opts.readOwner(file) };
}

/** Removes the lock if it is still ours (`mine` judges its owner record). */
export function releaseLockFile<Owner>(file: string, readOwner: (file: string) => Owner | null, mine: (owner: Owner) => boolean): void {
  const owner = readOwner(file);
  if (owner && mine(owner)) unlinkQuiet(file);
}

/** A JSON owner record, or null. */
export function readJsonOwner<Owner>(file: string, valid: (v: unknown) => v is Owner): Owner | null {
  try {
    const v: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return valid(v) ? v : null;
  } catch {
    return null;
  }
}
