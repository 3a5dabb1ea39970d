// A gateway route: one label, bound at registration to the owner of one launch (the
// account that owns the job whose comment carries sha256 of the route secret). The
// persisted part survives a restart; the live part is what the last scheduler query and
// readiness probe said.
import { createHash } from 'node:crypto';
import type { LaunchJob } from '../../contract/launch.js';

export interface RouteRecord {
  label: string;
  owner: string;
  /** sha256 of the route secret (the value in the job comment). */
  secretHash: string;
  /** The notebook's token, derived from the route secret: SECRET, added to each proxied request. */
  jupyterToken: string;
  /** sha256 of the unredeemed one-time token, or null once redeemed. */
  tokenHash: string | null;
  /** sha256 of each session cookie issued for this route. */
  cookieHashes: string[];
  /** The launch job the route follows now (keep-alive successors replace it). */
  jobId: string;
  createdAt: string;
  /** backend: tunnel: the gateway-side 127.0.0.1 port P held for this route, and the public half of its key; null otherwise. */
  tunnelPort: number | null;
  tunnelPublicKey: string | null;
}

export type RoutePhase = 'queued' | 'starting' | 'ready' | 'unverified' | 'ended';

export interface LiveState {
  job: LaunchJob | null;
  /** The node port the job announced (its comment), or null. */
  port: number | null;
  /** Last time the scheduler confirmed a live job (ms), or null. */
  verifiedAt: number | null;
  /** The server answered the readiness probe; reset when the job moves or a proxy call fails. */
  ready: boolean;
  /** Why the server is not ready (last probe error), or null. */
  probeError: string | null;
  endedAt: number | null;
  endReason: string | null;
}

export interface Route {
  record: RouteRecord;
  live: LiveState;
}

export function newLiveState(): LiveState {
  return { job: null, port: null, verifiedAt: null, ready: false, probeError: null, endedAt: null, endReason: null };
}

export function routePhase(r: Route, now: number, maxUnverifiedMs: number): RoutePhase {
  const l = r.live;
  if (l.endedAt !== null) return 'ended';
  if (l.verifiedAt === null || now - l.verifiedAt > maxUnverifiedMs) return 'unverified';
  if (!l.job || l.job.state === 'pending') return 'queued';
  if (l.ready && l.port !== null && (l.job.state === 'running' || l.job.state === 'completing')) return 'ready';
  return 'starting';
}

/** A short fingerprint for logs and the audit trail: never the label itself (it is part of the capability). */
export function routeFingerprint(label: string): string {
  return createHash('sha256').update(`hpcwrap-route:${label}`).digest('hex').slice(0, 12);
}
