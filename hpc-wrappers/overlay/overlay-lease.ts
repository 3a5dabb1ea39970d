// The lease on a user's overlay image: `<image>.lease`, created with O_EXCL by the one
// session that checks, creates and mounts the image. ext3 cannot be mounted writable
// twice, so the lease covers the whole life of the server, not only the creation: a
// second session of the same user (two concurrent first spawns, or a named server) finds
// it busy and never runs mkfs, fsck or a "move aside" on an image another node has mounted.
//
// The holder refreshes the file's mtime while its server runs. A lease is stale (taken
// over) when its owner process is gone on this host, or when it was not refreshed for
// `staleAfterMs` (its node died, or it was SIGKILLed).
import { closeSync, linkSync, openSync, readFileSync, renameSync, statSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { isRecord, unlinkQuiet } from '../json-files.js';
import { isSameProcess, processStartTime } from '../schedulers/process-identity.js';

export interface LeaseOwner {
  pid: number;
  startTime: string | null;
  host: string;
  sessionId: string;
  since: string;
}

export const LEASE_HEARTBEAT_MS = 30_000;
export const LEASE_STALE_MS = 180_000;

export function readLeaseOwner(file: string): LeaseOwner | null {
  try {
    const v: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (isRecord(v) && typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.sessionId === 'string') {
      return {
        pid: v.pid,
        startTime: typeof v.startTime === 'string' ? v.startTime : null,
        host: v.host,
        sessionId: v.sessionId,
        since: typeof v.since === 'string' ? v.since : '',
      };
    }
  } catch {
    /* missing, or being written right now */
  }
  return null;
}

export class OverlayLease {
  private timer: NodeJS.Timeout | null = null;
  private released = false;

  constructor(
    readonly file: string,
    readonly owner: LeaseOwner,
  ) {}

  /** Touches the lease so that other nodes see it alive. */
  refresh(): void {
    if (this.released) return;
    const now = new Date();
    try {
      utimesSync(this.file, now, now);
    } catch {
      /* removed under us (an admin); nothing to refresh */
    }
  }

  startHeartbeat(intervalMs = LEASE_HEARTBEAT_MS): void {
    this.timer = setInterval(() => this.refresh(), intervalMs);
    this.timer.unref();
  }

  /** Removes the lease, unless another session has taken it over meanwhile. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.timer) clearInterval(this.timer);
    const now = readLeaseOwner(this.file);
    if (now && now.pid === this.owner.pid && now.host === this.owner.host && now.sessionId === this.owner.sessionId) unlinkQuiet(this.file);
  }
}

export type LeaseOutcome = { kind: 'acquired'; lease: OverlayLease } | { kind: 'busy'; owner: LeaseOwner | null };

function tryCreate(file: string, owner: LeaseOwner): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new Error(`cannot create the overlay lease ${file}: ${(err as Error).message}`);
  }
  try {
    writeSync(fd, JSON.stringify(owner));
  } finally {
    closeSync(fd);
  }
  return true;
}

function isStale(file: string, staleAfterMs: number): { stale: boolean; ino: number | null; owner: LeaseOwner | null } {
  let st;
  try {
    st = statSync(file);
  } catch {
    return { stale: false, ino: null, owner: null }; // gone: just try again
  }
  const owner = readLeaseOwner(file);
  if (Date.now() - st.mtimeMs > staleAfterMs) return { stale: true, ino: st.ino, owner };
  const dead = owner !== null && owner.host === hostname() && !isSameProcess(owner.pid, owner.startTime);
  return { stale: dead, ino: st.ino, owner };
}

export interface AcquireLeaseOptions {
  sessionId: string;
  staleAfterMs?: number;
}

/** Takes the lease at once, or reports who holds it; never waits for a live holder. */
export function tryAcquireLease(file: string, opts: AcquireLeaseOptions): LeaseOutcome {
  const staleAfterMs = opts.staleAfterMs ?? LEASE_STALE_MS;
  const owner: LeaseOwner = {
    pid: process.pid,
    startTime: processStartTime(process.pid),
    host: hostname(),
    sessionId: opts.sessionId,
    since: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(file, owner)) return { kind: 'acquired', lease: new OverlayLease(file, owner) };
    const judged = isStale(file, staleAfterMs);
    if (!judged.stale) {
      if (judged.ino === null) continue; // released between our create and our look
      return { kind: 'busy', owner: judged.owner };
    }
    // Move the stale lease aside (atomic: one taker wins), then check that what we moved
    // is the lease we judged, not a fresh one a faster taker created meanwhile.
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
    if (movedIno !== judged.ino) {
      try {
        linkSync(aside, file); // put the fresh lease back (fails if yet another exists: it wins)
      } catch {
        /* a newer lease exists */
      }
    }
    unlinkQuiet(aside);
  }
  return { kind: 'busy', owner: readLeaseOwner(file) };
}
