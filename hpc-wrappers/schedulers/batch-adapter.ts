// The one adapter for every batch scheduler: it runs the dialect's commands (through
// run-command.ts, the only place commands run), reads their output with the dialect's
// parsers and applies the rules all schedulers share: one status call for all ids,
// "unreachable" is never "gone", cancelling a finished job is not an error.
import type { z } from 'zod';
import { validateJobId } from '../../contract/names.js';
import { WrapError } from '../errors.js';
import type { BatchSettings } from './batch-settings.js';
import type { SchedulerDialect } from './dialect.js';
import { runArgv, schedulerMessage, type CommandResult } from './run-command.js';
import { assignPositions, indexListing, statusFor, type ListedJob } from './shared/listing.js';
import type { JobSubmission, MarkedJobs, OwnedJobsResult, PartitionInfo, QueryResult, SchedulerAdapter, SchedulerJobStatus } from './types.js';
import { NO_ACCOUNTING, type AccountingResult } from './accounting-types.js';
import type { AccountingRecord } from '../../contract/accounting.js';

/** Variables set in any job given GPUs by a device plugin or cgroup hook, whatever the scheduler. */
export const COMMON_GPU_VARIABLES = ['CUDA_VISIBLE_DEVICES', 'ROCR_VISIBLE_DEVICES'] as const;

const TERMINAL = new Set(['done', 'failed', 'cancelled']);

export class BatchAdapter<Extra extends z.ZodRawShape> implements SchedulerAdapter {
  readonly name: string;
  readonly timeoutMs: number;
  readonly gpuVariables: readonly string[];
  readonly jobIdVariable: string;
  /** Only where the dialect has them (the launch gateway's needs). */
  readonly ownedJobs?: (filter: { users?: string[]; ids?: string[] }) => Promise<OwnedJobsResult>;
  readonly setComment?: (id: string, comment: string) => Promise<void>;

  constructor(
    private readonly dialect: SchedulerDialect<Extra>,
    private readonly settings: BatchSettings & z.infer<z.ZodObject<Extra>>,
  ) {
    this.name = dialect.kind;
    this.timeoutMs = settings.timeoutSeconds * 1000;
    this.gpuVariables = [...dialect.gpuVariables, ...COMMON_GPU_VARIABLES];
    this.jobIdVariable = dialect.jobIdVariable;
    const { owned, setComment } = dialect;
    if (owned) this.ownedJobs = (filter) => this.listOwned(owned, filter);
    if (setComment) this.setComment = (id, comment) => this.writeComment(setComment, id, comment);
  }

  private run(argv: string[], env: Record<string, string> = {}): Promise<CommandResult> {
    return runArgv(argv, { env: { ...this.settings.env, ...env }, timeoutMs: this.timeoutMs });
  }

  private program(which: 'submit' | 'query' | 'cancel'): string {
    return this.settings[which][0]!;
  }

  /** `unreachable` when the command got no answer from the scheduler, else `scheduler` (it answered: no). */
  private failureCode(r: CommandResult): 'unreachable' | 'scheduler' {
    return r.timedOut || this.dialect.unreachable.test(r.stderr + r.stdout) ? 'unreachable' : 'scheduler';
  }

  async submit(job: JobSubmission): Promise<{ jobId: string }> {
    const argv = [...this.settings.submit, ...this.dialect.submitArgs(job, this.settings)];
    const r = await this.run(argv, job.env);
    if (!r.ok) {
      const code = this.failureCode(r);
      const what = code === 'unreachable' ? `${this.dialect.title} did not answer ${this.program('submit')}` : `${this.program('submit')} refused the job`;
      // A submit that timed out may still have made the job: startjob then keeps the spool and a retry adopts it by its marker.
      throw new WrapError(code, `${what}: ${schedulerMessage(r)}`, { mayHaveSubmitted: r.timedOut });
    }
    const id = this.dialect.parseSubmit(r.stdout);
    if (!id) {
      throw new WrapError(
        'scheduler',
        `${this.program('submit')} printed no job id (${this.dialect.submitIdHint ?? `check scheduler.submit in hpc-wrap.yaml: ${this.dialect.appends.submit}`}): ${JSON.stringify(r.stdout.slice(0, 200))}`,
      );
    }
    try {
      return { jobId: validateJobId(id) };
    } catch (err) {
      throw new WrapError('scheduler', `${this.program('submit')} printed job id ${JSON.stringify(id.slice(0, 80))}, which hpc-wrap cannot use: ${(err as Error).message}`);
    }
  }

  async query(ids: string[]): Promise<QueryResult> {
    const rows: ListedJob[] = [];
    const errors: string[] = [];
    for (const tail of this.dialect.queryCalls(ids, this.settings)) {
      const r = await this.run([...this.settings.query, ...tail]);
      const forgotten = !r.ok && !r.timedOut && r.exitCode !== null && this.dialect.forgotten?.({ exitCode: r.exitCode, stderr: r.stderr });
      if (!r.ok && !forgotten) {
        errors.push(schedulerMessage(r));
        continue;
      }
      try {
        rows.push(...this.dialect.parseListing(r.stdout, this.settings));
      } catch (err) {
        errors.push(`${this.program('query')} printed something hpc-wrap cannot read as ${this.dialect.title} output (${(err as Error).message}): ${JSON.stringify(r.stdout.slice(0, 200))}`);
      }
    }
    if (errors.length) return { reachable: false, error: errors.join('; '), jobs: new Map() };
    await this.addQueueRows(rows, ids);
    assignPositions(rows);
    const index = indexListing(rows);
    const jobs = new Map<string, SchedulerJobStatus>();
    for (const id of ids) {
      const status = statusFor(id, index, this.dialect.arrayTask);
      if (status) jobs.set(id, status);
    }
    await this.addPendingReasons(jobs);
    return { reachable: true, error: null, jobs };
  }

  /**
   * With queuePosition and a dialect that lists only ours: when one of ours waits, the
   * pending jobs of its queues (each listed once). A failure only loses the positions.
   */
  private async addQueueRows(rows: ListedJob[], ids: readonly string[]): Promise<void> {
    const calls = this.dialect.positionCalls;
    if (!calls || !this.settings.queuePosition) return;
    const ours = new Set(ids);
    const keys = [...new Set(rows.filter((r) => r.state === 'pending' && r.waiting && (ours.has(r.id) || ours.has(r.baseId))).map((r) => r.queueKey))];
    if (keys.length === 0) return;
    const have = new Set(rows.map((r) => r.id));
    for (const tail of calls(keys, this.settings)) {
      const r = await this.run([...this.settings.query, ...tail]);
      if (!r.ok) continue;
      try {
        for (const row of this.dialect.parseListing(r.stdout, this.settings)) {
          if (have.has(row.id)) continue;
          have.add(row.id);
          rows.push(row);
        }
      } catch {
        // positions only: the states of ours are already known
      }
    }
  }

  /** The dialect's follow-up call for reasons its listing lacks; a failure only loses the reasons. */
  private async addPendingReasons(jobs: Map<string, SchedulerJobStatus>): Promise<void> {
    const follow = this.dialect.pendingReasons;
    const pending = [...jobs].filter(([, s]) => s.state === 'pending' && !s.reason).map(([id]) => id);
    if (!follow || pending.length === 0 || follow.enabled?.(this.settings) === false) return;
    const r = await this.run([...this.settings.query, ...follow.args(pending)]);
    if (!r.ok) return;
    const reasons = follow.parse(r.stdout);
    for (const id of pending) {
      const reason = reasons.get(id);
      if (reason) jobs.set(id, { ...jobs.get(id)!, reason });
    }
  }

  async findMarked(prefix: string): Promise<MarkedJobs> {
    const r = await this.run([...this.settings.query, ...this.dialect.marked.args(this.settings)]);
    if (!r.ok) return { reachable: false, error: schedulerMessage(r), jobs: [] };
    try {
      return { reachable: true, error: null, jobs: this.dialect.marked.parse(r.stdout, prefix, this.settings) };
    } catch (err) {
      return { reachable: false, error: `${this.program('query')} printed something hpc-wrap cannot read (${(err as Error).message})`, jobs: [] };
    }
  }

  private async listOwned(owned: NonNullable<SchedulerDialect<Extra>['owned']>, filter: { users?: string[]; ids?: string[] }): Promise<OwnedJobsResult> {
    const r = await this.run([...this.settings.query, ...owned.args(filter)]);
    if (!r.ok) {
      if (!r.timedOut && r.exitCode !== null && this.dialect.forgotten?.(r)) return { reachable: true, error: null, jobs: [] };
      return { reachable: false, error: schedulerMessage(r), jobs: [] };
    }
    return { reachable: true, error: null, jobs: owned.parse(r.stdout) };
  }

  private async writeComment(set: NonNullable<SchedulerDialect<Extra>['setComment']>, id: string, comment: string): Promise<void> {
    const r = await this.run([...set.command(this.settings), ...set.args(validateJobId(id), comment)]);
    if (!r.ok) throw new WrapError(this.failureCode(r), `${set.program} could not set the comment of job ${id}: ${schedulerMessage(r)}`);
  }

  async partitions(): Promise<PartitionInfo[] | null> {
    const p = this.dialect.partitions;
    if (!p) return null;
    const r = await this.run([...p.command(this.settings), ...p.args]);
    if (!r.ok) throw new WrapError(this.failureCode(r), `${p.program} failed: ${schedulerMessage(r)}`);
    return p.parse(r.stdout);
  }

  async accounting(ids: string[]): Promise<AccountingResult> {
    const acct = this.dialect.accounting;
    if (!acct) return NO_ACCOUNTING(`hpc-wrap does not read ${this.dialect.title}'s accounting; usage comes from the bridge's own records (GET /v1/jobs)`);
    const jobs = new Map<string, AccountingRecord>();
    for (const call of acct.calls(ids)) {
      const r = await this.run([...acct.command(this.settings), ...call.args], call.env ?? {});
      if (!r.ok) {
        const said = schedulerMessage(r);
        if (!r.timedOut && acct.notAvailable.test(r.stderr + r.stdout)) return { available: false, reachable: true, error: said, jobs: new Map() };
        return { available: true, reachable: false, error: said, jobs: new Map() };
      }
      for (const [listed, rec] of acct.parse(r.stdout)) jobs.set(call.idOf(listed), rec);
    }
    return { available: true, reachable: true, error: null, jobs };
  }

  async cancel(id: string): Promise<void> {
    const jobId = validateJobId(id);
    const r = await this.run([...this.settings.cancel, ...this.dialect.cancelArgs(jobId)]);
    if (r.ok || (!r.timedOut && this.dialect.alreadyOver.test(r.stderr + r.stdout))) return;
    // Some cancel commands fail without saying why (Slurm's qdel wrapper exits 1 for a
    // finished job): ask the scheduler whether the job is still there.
    if (!r.timedOut) {
      const after = await this.query([jobId]);
      const status = after.jobs.get(jobId);
      if (after.reachable && (!status || TERMINAL.has(status.state))) return;
    }
    throw new WrapError(this.failureCode(r), `${this.program('cancel')} failed for job ${jobId}: ${schedulerMessage(r)}`);
  }

  describe() {
    const s = this.settings;
    return {
      name: this.dialect.kind,
      batchSystem: true,
      summary: `${this.dialect.title} via ${s.submit.join(' ')} / ${s.query.join(' ')} / ${s.cancel.join(' ')}`,
    };
  }
}
