// `hpc-wrap accounting ID...` (docs/contracts.md §3a): what the scheduler's accounting
// recorded for jobs that ended, as hpc-wrap writes it and the bridge reads it. The figures
// are the scheduler's own (Slurm: sacct); a scheduler without accounting says
// `available: false`, one that does not answer now `reachable: false`.
import { z } from 'zod';

const count = z.number().int().min(0).nullable();
const iso = z.string().max(40).nullable();
const text = z.string().max(4096).nullable();

export const accountingRecordSchema = z.object({
  /** The scheduler's own state word (COMPLETED, CANCELLED, TIMEOUT, FAILED, OUT_OF_MEMORY, …). */
  state: z.string().min(1).max(64),
  exitCode: z.number().int().nullable(),
  /** Signal that ended the job (Slurm ExitCode's second part). */
  signal: z.number().int().nullable(),
  elapsedSeconds: count,
  /** Allocated CPU time: elapsed × allocated CPUs (what sites charge; Slurm CPUTimeRAW). */
  cpuSeconds: count,
  /** CPU time the processes used (Slurm TotalCPU; 0 or null without job accounting gather). */
  usedCpuSeconds: z.number().min(0).nullable(),
  cpus: count,
  gpus: count,
  memoryMB: count,
  account: text,
  partition: text,
  nodes: text,
  submittedAt: iso,
  startedAt: iso,
  endedAt: iso,
});
export type AccountingRecord = z.infer<typeof accountingRecordSchema>;

export const accountingReportSchema = z.object({
  scheduler: z.object({
    name: z.string(),
    /** False: this scheduler keeps no accounting (fork, Slurm without slurmdbd); asking again will not help. */
    available: z.boolean(),
    /** False: accounting exists but did not answer now (ask again later). */
    reachable: z.boolean(),
    error: z.string().nullable(),
  }),
  /** Only jobs that ended and that the accounting knows; a missing id may not be recorded yet. */
  jobs: z.record(z.string(), accountingRecordSchema),
});
export type AccountingReport = z.infer<typeof accountingReportSchema>;
