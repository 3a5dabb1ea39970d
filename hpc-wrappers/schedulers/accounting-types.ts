// What a scheduler's accounting says about a job that ended (docs/contracts.md §3a): the
// figures as the scheduler records them, for usage reports. An optional capability of a
// scheduler adapter (`accounting(ids)`); Slurm has it through sacct (slurm-accounting.ts).

export interface AccountingRecord {
  /** The scheduler's own state word (COMPLETED, CANCELLED, TIMEOUT, FAILED, OUT_OF_MEMORY, …). */
  state: string;
  exitCode: number | null;
  /** Signal that ended the job (Slurm ExitCode's second part), null when none is recorded. */
  signal: number | null;
  elapsedSeconds: number | null;
  /** Allocated CPU time: elapsed × allocated CPUs (what sites charge; Slurm CPUTimeRAW). */
  cpuSeconds: number | null;
  /** CPU time the processes used (Slurm TotalCPU; 0 or null without job accounting gather). */
  usedCpuSeconds: number | null;
  cpus: number | null;
  gpus: number | null;
  memoryMB: number | null;
  account: string | null;
  partition: string | null;
  nodes: string | null;
  submittedAt: string | null;
  startedAt: string | null;
  endedAt: string | null;
}

export interface AccountingResult {
  /** False: this scheduler keeps no accounting (fork, or Slurm without slurmdbd); asking again will not help. */
  available: boolean;
  /** False: accounting exists but did not answer now (try again later). */
  reachable: boolean;
  error: string | null;
  /** Only jobs that ended and that the accounting knows; a missing id may simply not be recorded yet. */
  jobs: Map<string, AccountingRecord>;
}

export const NO_ACCOUNTING = (why: string): AccountingResult => ({ available: false, reachable: true, error: why, jobs: new Map() });
