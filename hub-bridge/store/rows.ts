// Rows of the store's tables as the bridge's objects (sessions, job records).
import type { JobState, Session, SessionState, TunnelState } from '../sessions/types.js';

export type Row = Record<string, unknown>;

export function toSession(r: Row): Session {
  return {
    id: r.id as string,
    number: r.number as number,
    user: r.user as string,
    serverName: r.server_name as string,
    profile: r.profile as string,
    state: r.state as SessionState,
    jobId: (r.job_id as string | null) ?? null,
    jobState: (r.job_state as JobState | null) ?? null,
    node: (r.node as string | null) ?? null,
    host: (r.host as string | null) ?? null,
    port: (r.port as number | null) ?? null,
    servicePrefix: r.service_prefix as string,
    queuePosition: (r.queue_position as number | null) ?? null,
    estimatedStart: (r.estimated_start as string | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    message: (r.message as string | null) ?? null,
    schedulerReachable: r.scheduler_reachable === 1,
    cancelRequested: r.cancel_requested === 1,
    tunnelPort: (r.tunnel_port as number | null) ?? null,
    tunnelPublicKey: (r.tunnel_public_key as string | null) ?? null,
    tunnelExpiresAt: (r.tunnel_expires_at as string | null) ?? null,
    startedAt: (r.started_at as string | null) ?? null,
    timeLimitSeconds: (r.time_limit_seconds as number | null) ?? null,
    stoppedBy: (r.stopped_by as Session['stoppedBy']) ?? null,
    tunnelState: (r.tunnel_state as TunnelState | null) ?? null,
    tunnelSince: (r.tunnel_since as string | null) ?? null,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
  };
}

/** The columns every jobs-table reader shares: which job, whose, and when (the usage rows add accounting to these). */
export type JobTimes = Pick<JobRecord, 'jobId' | 'sessionId' | 'user' | 'profile' | 'submittedAt' | 'startedAt' | 'endedAt'>;

export function jobTimes(r: Row): JobTimes {
  return {
    jobId: r.job_id as string,
    sessionId: r.session_id as string,
    user: r.user as string,
    profile: r.profile as string,
    submittedAt: r.submitted_at as string,
    startedAt: (r.started_at as string | null) ?? null,
    endedAt: (r.ended_at as string | null) ?? null,
  };
}

export function toJobRecord(r: Row): JobRecord {
  return {
    ...jobTimes(r),
    node: (r.node as string | null) ?? null,
    finalState: (r.final_state as string | null) ?? null,
    exitCode: (r.exit_code as number | null) ?? null,
  };
}


export interface JobRecord {
  jobId: string;
  sessionId: string;
  user: string;
  profile: string;
  submittedAt: string;
  startedAt: string | null;
  endedAt: string | null;
  node: string | null;
  finalState: string | null;
  exitCode: number | null;
}
