// The lease on a user's overlay image: `<image>.lease`, created with O_EXCL by the one
// session that checks, creates and mounts the image. ext3 cannot be mounted writable
// twice, so the lease covers the whole life of the server, not only the creation: a
// second session of the same user (two concurrent first spawns, or a named server) finds
// it busy and never runs mkfs, fsck or a "move aside" on an image another node has mounted.
//
// The holder refreshes the file's mtime while its server runs. A lease is stale (taken
// over) when its owner process is gone on this host, or when it was not refreshed for
// `staleAfterMs` (its node died, or it was SIGKILLed).
import { utimesSync } from 'node:fs';
import { hostname } from 'node:os';
import { isRecord } from '../json-files.js';
import { readJsonOwner, releaseLockFile, tryLockFile } from '../lock-file.js';
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
  const v = readJsonOwner(file, (x): x is Record<string, unknown> => isRecord(x) && typeof x.pid === 'number' && typeof x.host === 'string' && typeof x.sessionId === 'string');
  if (!v) return null;
  return {
    pid: v.pid as number,
    startTime: typeof v.startTime === 'string' ? v.startTime : null,
    host: v.host as string,
    sessionId: v.sessionId as string,
    since: typeof v.since === 'string' ? v.since : '',
  };
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
    releaseLockFile(this.file, readLeaseOwner, (now) => now.pid === this.owner.pid && now.host === this.owner.host && now.sessionId === this.owner.sessionId);
  }
}

export type LeaseOutcome = { kind: 'acquired'; lease: OverlayLease } | { kind: 'busy'; owner: LeaseOwner | null };

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
  // Stale: not refreshed for staleAfterMs (its node died, or it was SIGKILLed), or its process on this host is gone.
  const isStale = (o: LeaseOwner | null, mtimeMs: number) =>
    Date.now() - mtimeMs > staleAfterMs || (o !== null && o.host === hostname() && !isSameProcess(o.pid, o.startTime));
  const attempt = tryLockFile(file, { owner, readOwner: readLeaseOwner, isStale, what: 'the overlay lease' });
  return attempt.kind === 'acquired' ? { kind: 'acquired', lease: new OverlayLease(file, owner) } : { kind: 'busy', owner: attempt.owner };
}
