// The one interface between hpc-wrap's commands and a batch system. A batch scheduler is
// data: a SchedulerDialect (dialect.ts) read by the one generic BatchAdapter
// (batch-adapter.ts); `fork` is its own small adapter of the same interface. The
// registry (registry.ts) names them all.
import type { Resources } from '../../config/schema.js';
import type { JobState } from '../../contract/jobstate.js';
import type { AccountingResult } from './accounting-types.js';
import type { PartitionInfo } from '../../contract/partitions.js';

export type { JobState } from '../../contract/jobstate.js';
export type { PartitionInfo } from '../../contract/partitions.js';

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
  /** 1 = next to start among waiting jobs of the same queue. */
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

/**
 * What hpc-wrap's commands need from a scheduler. To implement one:
 *
 * - `submit(job)` runs the submit command ONCE with an argv array (never a shell), the
 *   script path last, `job.env` added to its environment, and returns the job id the
 *   scheduler printed (validated by `validateJobId`). A refusal throws
 *   `WrapError('scheduler', <the scheduler's own message>)`; startjob turns it into exit 4.
 * - `query(ids)` makes ONE status call for all ids (a second only where the scheduler
 *   cannot list them together) and never throws for an unreachable scheduler: it returns
 *   `reachable: false` with the scheduler's message. An id it does not list is left out
 *   of `jobs` (jobstate then reads the run dir); it never reports "gone" for a scheduler
 *   it could not ask.
 * - `cancel(id)` asks the scheduler to end the job; a job that is already over or unknown
 *   is not an error. Any other failure throws `WrapError('scheduler', …)`.
 * - `describe()` says what it is (`hpc-wrap doctor`, `config check`).
 * - `jobIdVariable` names the variable a running job finds its own id in (SLURM_JOB_ID …).
 * - `timeoutMs` bounds one scheduler command (startjob's lock waits for it);
 *   `gpuVariables` names the variables a job that was given GPUs finds in its
 *   environment (the container step reads them, via job.json, for ready batch scripts).
 *
 * Every command runs through run-command.ts, the only place that executes them.
 */
export interface SchedulerAdapter {
  readonly name: string;
  readonly timeoutMs: number;
  readonly gpuVariables: readonly string[];
  /** The variable in which a running job finds its own id (start-env's duplicate guard). */
  readonly jobIdVariable: string;
  submit(job: JobSubmission): Promise<{ jobId: string }>;
  query(ids: string[]): Promise<QueryResult>;
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
  /**
   * Optional: the partitions jobs can be submitted to, in ONE scheduler call (the bridge
   * caches the answer to mark profiles that cannot run). Adapters without partitions (fork)
   * leave it out. Throws WrapError('scheduler') when the scheduler cannot be asked.
   */
  partitions?(): Promise<PartitionInfo[] | null>;
}

export function emptyStatus(state: JobState): SchedulerJobStatus {
  return { state, node: null, reason: null, position: null, estimatedStart: null, exitCode: null };
}
