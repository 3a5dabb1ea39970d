// `hpc-wrap jobstate` (docs/contracts.md §3): the one status report for all live jobs, as
// hpc-wrap writes it and the bridge reads it. The scheduler's states are mapped onto
// JOB_STATES by each adapter; `unknown` means "could not ask", never "gone".
import { z } from 'zod';
import { viaName, validateJobId, validateSessionId, validateUsername } from './names.js';
import { JOB_STATES, SERVER_PHASES, TUNNEL_STATES } from './job-phases.js';

export { FINISHED_JOB_STATES, JOB_STATES, SERVER_PHASES, TUNNEL_STATES, type JobState, type ServerPhase, type TunnelState } from './job-phases.js';

export const serverStatusSchema = z.object({
  phase: z.enum(SERVER_PHASES),
  host: z.string().nullable(),
  port: z.number().int().min(1).max(65535).nullable(),
  /** The exit reason once `exited`; before that null or a notice for the student from an environment step. */
  message: z.string().nullable(),
  tunnel: z.enum(TUNNEL_STATES).nullable().optional(),
  /** The tunnel's last connection error (no secrets), or null. */
  tunnelLastError: z.string().nullable().optional(),
});
export type ServerStatus = z.infer<typeof serverStatusSchema>;

export const jobReportSchema = z.object({
  state: z.enum(JOB_STATES),
  node: z.string().nullable(),
  reason: z.string().nullable(),
  /** 1 = next to start among pending jobs of the same partition. */
  position: z.number().int().nullable(),
  /** ISO 8601 (UTC) estimated start of a pending job (the scheduler's worst case). */
  estimatedStart: z.string().nullable(),
  exitCode: z.number().int().nullable(),
  server: serverStatusSchema.nullable(),
  /** The last lines of the job output, for a finished job or an exited server. */
  outputTail: z.string().nullable(),
});
export type JobReport = z.infer<typeof jobReportSchema>;

export const jobStateReportSchema = z.object({
  scheduler: z.object({
    name: z.string(),
    reachable: z.boolean(),
    error: z.string().nullable(),
    /** false: no batch system, the jobs run on the host hpc-wrap runs on (fork); absent in older reports. */
    batchSystem: z.boolean().optional(),
  }),
  jobs: z.record(z.string(), jobReportSchema),
});
export type JobStateReport = z.infer<typeof jobStateReportSchema>;

/**
 * The bridge's jobstate request on stdin: each job with the session and user it belongs
 * to, so that hpc-wrap finds the run dir from names alone (no index another account
 * could write). `hpc-wrap jobstate ID...` (ids in argv) remains for operators.
 */
export const jobRefSchema = z
  .object({
    jobId: z.string().transform(viaName(validateJobId)),
    sessionId: z.string().transform(viaName(validateSessionId)),
    user: z.string().max(1024).transform(viaName(validateUsername)),
  })
  .strict();
export type JobRef = z.infer<typeof jobRefSchema>;

export const jobStateRequestSchema = z.object({ version: z.literal(1), jobs: z.array(jobRefSchema).max(100_000) }).strict();
export type JobStateRequest = z.infer<typeof jobStateRequestSchema>;

/**
 * `hpc-wrap marked-jobs`: the live jobs that carry a session marker (ONE scheduler call),
 * for the bridge's orphan reaper. `account` is the Unix account the job runs as.
 */
export const markedJobsReportSchema = z.object({
  reachable: z.boolean(),
  error: z.string().nullable(),
  jobs: z.array(z.object({ jobId: z.string(), sessionId: z.string(), account: z.string().nullable(), state: z.enum(JOB_STATES) })),
});
export type MarkedJobsReport = z.infer<typeof markedJobsReportSchema>;
