// The accounting columns of the jobs table: what the profile asked for at submit (the
// bridge's own estimate) and what the scheduler's accounting recorded once the job ended.
// Added in place to an older database; every statement is prepared once.
import type Database from 'better-sqlite3';
import type { AccountingRecord } from '../../contract/accounting.js';
import { jobTimes, type JobTimes } from '../store/rows.js';

/** New jobs columns: [name, type]. */
const COLUMNS: Array<[string, string]> = [
  ['req_cpus', 'INTEGER'],
  ['req_gpus', 'INTEGER'],
  ['req_memory_mb', 'INTEGER'],
  ['req_account', 'TEXT'],
  // null = not asked yet; scheduler = recorded below; unavailable = the scheduler keeps no
  // accounting (acct_note says why); gave_up = no record came within giveUpAfterHours
  ['acct_source', 'TEXT'],
  ['acct_note', 'TEXT'],
  ['acct_checked_at', 'TEXT'],
  ['sched_state', 'TEXT'],
  ['sched_exit_code', 'INTEGER'],
  ['sched_signal', 'INTEGER'],
  ['elapsed_seconds', 'INTEGER'],
  ['cpu_seconds', 'INTEGER'],
  ['used_cpu_seconds', 'REAL'],
  ['alloc_cpus', 'INTEGER'],
  ['alloc_gpus', 'INTEGER'],
  ['alloc_memory_mb', 'INTEGER'],
  ['account', 'TEXT'],
  ['partition', 'TEXT'],
  ['sched_nodes', 'TEXT'],
  ['sched_submitted_at', 'TEXT'],
  ['sched_started_at', 'TEXT'],
  ['sched_ended_at', 'TEXT'],
];

export interface RequestedResources {
  cpus: number | null;
  gpus: number | null;
  memoryMB: number | null;
  account: string | null;
}

/** One jobs row as usage needs it. */
export interface UsageRow extends JobTimes {
  reqCpus: number | null;
  reqGpus: number | null;
  reqAccount: string | null;
  acctSource: string | null;
  acctNote: string | null;
  elapsedSeconds: number | null;
  cpuSeconds: number | null;
  allocGpus: number | null;
  account: string | null;
  schedSubmittedAt: string | null;
  schedStartedAt: string | null;
}

export function migrateAccountingColumns(db: Database.Database): void {
  const have = new Set((db.prepare('PRAGMA table_info(jobs)').all() as { name: string }[]).map((c) => c.name));
  for (const [name, type] of COLUMNS) if (!have.has(name)) db.prepare(`ALTER TABLE jobs ADD COLUMN ${name} ${type}`).run();
  db.prepare('CREATE INDEX IF NOT EXISTS jobs_accounting ON jobs(acct_source, ended_at)').run();
  db.prepare('CREATE INDEX IF NOT EXISTS jobs_submitted ON jobs(submitted_at)').run();
}

export class AccountingStore {
  private readonly stmts;

  constructor(private readonly db: Database.Database) {
    migrateAccountingColumns(db);
    this.stmts = {
      requested: db.prepare('UPDATE jobs SET req_cpus = ?, req_gpus = ?, req_memory_mb = ?, req_account = ? WHERE job_id = ? AND session_id = ?'),
      pending: db.prepare(
        'SELECT job_id FROM jobs WHERE ended_at IS NOT NULL AND acct_source IS NULL AND ended_at >= ? GROUP BY job_id ORDER BY MIN(ended_at) LIMIT ?',
      ),
      giveUp: db.prepare(
        "UPDATE jobs SET acct_source = 'gave_up', acct_note = ?, acct_checked_at = ? WHERE ended_at IS NOT NULL AND acct_source IS NULL AND ended_at < ?",
      ),
      checked: db.prepare('UPDATE jobs SET acct_checked_at = ? WHERE job_id = ? AND acct_source IS NULL'),
      unavailable: db.prepare("UPDATE jobs SET acct_source = 'unavailable', acct_note = ?, acct_checked_at = ? WHERE job_id = ? AND acct_source IS NULL"),
      record: db.prepare(
        `UPDATE jobs SET acct_source = 'scheduler', acct_note = NULL, acct_checked_at = @now,
           sched_state = @state, sched_exit_code = @exitCode, sched_signal = @signal,
           elapsed_seconds = @elapsedSeconds, cpu_seconds = @cpuSeconds, used_cpu_seconds = @usedCpuSeconds,
           alloc_cpus = @cpus, alloc_gpus = @gpus, alloc_memory_mb = @memoryMB,
           account = @account, partition = @partition, sched_nodes = @nodes,
           sched_submitted_at = @submittedAt, sched_started_at = @startedAt, sched_ended_at = @endedAt
         WHERE job_id = @jobId`,
      ),
      rows: db.prepare(
        `SELECT job_id, session_id, user, profile, submitted_at, started_at, ended_at, req_cpus, req_gpus, req_account,
                acct_source, acct_note, elapsed_seconds, cpu_seconds, alloc_gpus, account, sched_submitted_at, sched_started_at
           FROM jobs WHERE submitted_at >= ? AND submitted_at < ? ORDER BY submitted_at`,
      ),
    };
  }

  /** What the session's profile asked for (the estimate when the scheduler keeps no accounting). */
  recordRequested(jobId: string, sessionId: string, r: RequestedResources): void {
    this.stmts.requested.run(r.cpus, r.gpus, r.memoryMB, r.account, jobId, sessionId);
  }

  /** Jobs that ended and were not asked about yet, oldest first; those that ended before `giveUpBefore` are given up. */
  pending(limit: number, giveUpBefore: Date): string[] {
    const cutoff = giveUpBefore.toISOString();
    this.stmts.giveUp.run('the scheduler accounting had no record of this job in time', new Date().toISOString(), cutoff);
    return (this.stmts.pending.all(cutoff, limit) as { job_id: string }[]).map((r) => r.job_id);
  }

  /** The scheduler's records; ids it did not know yet stay pending (only their check time moves). */
  record(ids: string[], jobs: Record<string, AccountingRecord>): number {
    const now = new Date().toISOString();
    let n = 0;
    this.db.transaction(() => {
      for (const id of ids) {
        const rec = jobs[id];
        if (rec) {
          this.stmts.record.run({ ...rec, jobId: id, now });
          n++;
        } else this.stmts.checked.run(now, id);
      }
    })();
    return n;
  }

  /** The scheduler keeps no accounting: these jobs are reported from what the bridge saw. */
  markUnavailable(ids: string[], note: string): void {
    const now = new Date().toISOString();
    this.db.transaction(() => {
      for (const id of ids) this.stmts.unavailable.run(note, now, id);
    })();
  }

  /** Jobs submitted in [from, to). */
  rows(from: Date, to: Date): UsageRow[] {
    return (this.stmts.rows.all(from.toISOString(), to.toISOString()) as Record<string, unknown>[]).map((r) => ({
      ...jobTimes(r),
      reqCpus: (r.req_cpus as number | null) ?? null,
      reqGpus: (r.req_gpus as number | null) ?? null,
      reqAccount: (r.req_account as string | null) ?? null,
      acctSource: (r.acct_source as string | null) ?? null,
      acctNote: (r.acct_note as string | null) ?? null,
      elapsedSeconds: (r.elapsed_seconds as number | null) ?? null,
      cpuSeconds: (r.cpu_seconds as number | null) ?? null,
      allocGpus: (r.alloc_gpus as number | null) ?? null,
      account: (r.account as string | null) ?? null,
      schedSubmittedAt: (r.sched_submitted_at as string | null) ?? null,
      schedStartedAt: (r.sched_started_at as string | null) ?? null,
    }));
  }
}
