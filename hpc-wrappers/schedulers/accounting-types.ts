// A scheduler adapter's optional accounting capability (`accounting(ids)`): the records of
// jobs that ended (the wire form is contract/accounting.ts). Slurm has it through sacct
// (slurm-accounting.ts).
import type { AccountingRecord } from '../../contract/accounting.js';

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
