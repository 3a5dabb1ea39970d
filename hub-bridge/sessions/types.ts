// The session model shared by the store, the service, the poller and the API.
import { serverUrl } from './server-address.js';

export const SESSION_STATES = ['submitting', 'queued', 'starting', 'ready', 'stopping', 'stopped', 'failed'] as const;
export type SessionState = (typeof SESSION_STATES)[number];
export const TERMINAL_STATES: readonly SessionState[] = ['stopped', 'failed'];
export const isTerminal = (s: SessionState) => TERMINAL_STATES.includes(s);

export type { JobState } from '../../contract/jobstate.js';
import type { JobState } from '../../contract/jobstate.js';

/** hub-bridge/tunnel/tunnels.ts explains each state. */
export const TUNNEL_STATES = ['waiting', 'up', 'down', 'closed'] as const;
export type TunnelState = (typeof TUNNEL_STATES)[number];

export interface Session {
  id: string;
  /** A small integer naming the session (1, 2, …): the job id stock batchspawner sees. */
  number: number;
  user: string;
  serverName: string;
  profile: string;
  state: SessionState;
  jobId: string | null;
  jobState: JobState | null;
  node: string | null;
  host: string | null;
  port: number | null;
  servicePrefix: string;
  queuePosition: number | null;
  estimatedStart: string | null;
  reason: string | null;
  message: string | null;
  schedulerReachable: boolean;
  cancelRequested: boolean;
  /** Hub-side loopback port of the session's reverse tunnel (tunnel mode). */
  tunnelPort: number | null;
  /** The job's tunnel public key (valid until tunnelExpiresAt or the job's end). */
  tunnelPublicKey: string | null;
  tunnelExpiresAt: string | null;
  /** When the job was first seen running (ISO); the time limit counts from here. */
  startedAt: string | null;
  /** The job's time limit (the profile's walltime) in seconds; null when unknown (a ready script). */
  timeLimitSeconds: number | null;
  /** Who asked for the stop: JupyterHub, the student or an admin (on the hub service's pages). */
  stoppedBy: 'hub' | 'user' | 'admin' | null;
  /** The tunnel as the bridge's endpoint sees it (waiting|up|down|closed), and since when. */
  tunnelState: TunnelState | null;
  tunnelSince: string | null;
  createdAt: string;
  updatedAt: string;
}

export type EventKind =
  | 'requested'
  | 'submitted'
  | 'queued'
  | 'running'
  | 'starting'
  | 'ready'
  | 'failed'
  | 'stopping'
  | 'stopped'
  | 'unknown'
  | 'info';

export const TERMINAL_EVENTS: readonly EventKind[] = ['ready', 'failed', 'stopped'];

export interface SessionEvent {
  seq: number;
  sessionId: string;
  time: string;
  kind: EventKind;
  message: string;
  progress: number;
}

/** When the job reaches its time limit (ISO), once it runs and the limit is known. */
export function endsAt(s: Pick<Session, 'startedAt' | 'timeLimitSeconds'>): string | null {
  if (!s.startedAt || !s.timeLimitSeconds) return null;
  const t = Date.parse(s.startedAt);
  return Number.isNaN(t) ? null : new Date(t + s.timeLimitSeconds * 1000).toISOString();
}

/** The public JSON form of a session (what GET /v1/sessions/:id returns). */
export function sessionView(s: Session) {
  return {
    id: s.id,
    number: s.number,
    user: s.user,
    serverName: s.serverName,
    profile: s.profile,
    state: s.state,
    jobId: s.jobId,
    jobState: s.jobState,
    node: s.node,
    host: s.host,
    port: s.port,
    url: serverUrl(s.host, s.port),
    queue: { position: s.queuePosition, estimatedStart: s.estimatedStart },
    reason: s.reason,
    message: s.message,
    schedulerReachable: s.schedulerReachable,
    startedAt: s.startedAt,
    timeLimitSeconds: s.timeLimitSeconds,
    endsAt: endsAt(s),
    stoppedBy: s.stoppedBy,
    tunnel: s.tunnelPort !== null && s.tunnelState ? { state: s.tunnelState, since: s.tunnelSince, port: s.tunnelPort } : null,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}
