// The one interface between hpc-wrap's commands and a batch system. An adapter turns a
// generic job description into its scheduler's CLI and maps its states onto JobState.
import type { Resources } from '../../config/schema.js';
import type { JobState } from '../../contract/jobstate.js';
import type { AccountingResult } from './accounting-types.js';

export type { JobState } from '../../contract/jobstate.js';

export interface JobSubmission {
  /** Job name shown by the scheduler (prefix + escaped user; no user-controlled text). */
  name: string;
  /** Absolute path of the batch script. */
  scriptPath: string;
  /** Absolute path of the job's stdout+stderr file. */
  outputPath: string;
  /** Working directory of the job; null = the scheduler's default. */
  chdir: string | null;
  /** What to ask for; null for a ready script that carries its own directives. */
  resources: Resources | null;
  /** Added to the submit process's environment (not secret: run dir, config path). */
  env: Record<string, string>;
  /**
   * A tag the scheduler keeps with the job and lists back (Slurm: --comment), carrying the
   * session id (`hpc-bridge:<sessionId>`), so a job whose submit was interrupted can be
   * found again (adopted or reaped). ASCII, no spaces. A launch job's is its route binding
   * (`hpcwrap-launch:v1:<hash>`, docs/launch.md), which the bridge's reaper leaves alone.
   */
  marker: string;
  /** Start only after this job has ended (a launch's keep-alive successor); absent = at once. */
  afterJob?: string | null;
}

/** A live job listed with our marker. */
export interface MarkedJob {
  jobId: string;
  marker: string;
  state: JobState;
  /** The account the job runs as, as the scheduler reports it. */
  user: string | null;
}

export interface MarkedJobs {
  reachable: boolean;
  error: string | null;
  jobs: MarkedJob[];
}

/** A job with its owner and comment (marker): what the launch gateway verifies a route with. */
export interface OwnedJob {
  id: string;
  user: string;
  state: JobState;
  /** The node that runs the job script (batch host), or null. */
  node: string | null;
  comment: string | null;
}

export interface OwnedJobsResult {
  reachable: boolean;
  error: string | null;
  jobs: OwnedJob[];
}

export interface SchedulerJobStatus {
  state: JobState;
  node: string | null;
  reason: string | null;
  /** 1 = next to start among pending jobs of the same partition. */
  position: number | null;
  /** ISO 8601 (UTC) estimated start of a pending job. */
  estimatedStart: string | null;
  exitCode: number | null;
}

export interface QueryResult {
  reachable: boolean;
  error: string | null;
  /** Only the ids the scheduler still knows; an absent id is "no longer listed". */
  jobs: Map<string, SchedulerJobStatus>;
}

export interface SchedulerDescription {
  name: string;
  batchSystem: boolean;
  summary: string;
}

export interface SchedulerAdapter {
  readonly name: string;
  /** Throws WrapError('scheduler') with the scheduler's message when it refuses. */
  submit(job: JobSubmission): Promise<{ jobId: string }>;
  /** ONE scheduler call for all ids; never throws for an unreachable scheduler. */
  query(ids: string[]): Promise<QueryResult>;
  /** Cancelling a finished or unknown job is not an error. */
  cancel(id: string): Promise<void>;
  /** ONE scheduler call: the live (not finished) jobs whose marker starts with `prefix`. */
  findMarked(prefix: string): Promise<MarkedJobs>;
  /**
   * Launch gateway (optional): ONE call listing the jobs of `users` (or the jobs `ids`)
   * with owner, batch host and comment, finished ones included. A scheduler without it
   * cannot serve `hpc-wrap launch` routes.
   */
  ownedJobs?(filter: { users?: string[]; ids?: string[] }): Promise<OwnedJobsResult>;
  /** Sets the comment (marker) of a job of the calling user (a launch job announces its port). Optional. */
  setComment?(id: string, comment: string): Promise<void>;
  describe(): SchedulerDescription;
  /** Optional: ONE accounting call for jobs that ended (accounting-types.ts); absent = no accounting. */
  accounting?(ids: string[]): Promise<AccountingResult>;
}

export function emptyStatus(state: JobState): SchedulerJobStatus {
  return { state, node: null, reason: null, position: null, estimatedStart: null, exitCode: null };
}
