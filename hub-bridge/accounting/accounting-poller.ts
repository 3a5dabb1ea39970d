// Fills the jobs table from the scheduler's accounting: every interval, ONE
// `hpc-wrap accounting` call for the jobs that ended since (at most batchSize). A
// scheduler without accounting is remembered per job (usage then says so); one that does
// not answer is asked again next time. Also records, at submit, what the profile asked for.
import type { Logger } from 'pino';
import type { HubBridgeConfig } from '../../config/schema.js';
import type { HpcWrapClient } from '../cluster/hpc-wrap-client.js';
import type { SessionObserver } from '../sessions/lifecycle-observer.js';
import type { Session } from '../sessions/types.js';
import type { AccountingStore } from './accounting-store.js';

export interface AccountingOutcomeSink {
  accountingCall(result: 'ok' | 'unavailable' | 'error', jobsRecorded: number): void;
}

export class AccountingPoller {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  /** accounting calls made (tests check there is one per interval). */
  calls = 0;

  constructor(
    private readonly store: AccountingStore,
    private readonly cluster: HpcWrapClient,
    private readonly config: HubBridgeConfig,
    private readonly log: Logger,
    private readonly sink: AccountingOutcomeSink | null = null,
  ) {}

  /** The observer that records each job's requested resources at submit. */
  readonly requests: SessionObserver = {
    submitted: (s: Session, jobId: string) => {
      const r = this.config.profiles.find((p) => p.name === s.profile)?.resources;
      this.store.recordRequested(jobId, s.id, { cpus: r?.cpus ?? null, gpus: r?.gpus ?? null, memoryMB: r?.memoryMB ?? null, account: r?.account ?? null });
    },
  };

  start(): void {
    if (!this.config.accounting.enabled) return;
    this.stopped = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .catch((err) => this.log.warn({ err: (err as Error).message }, 'accounting call failed; retrying next interval'))
        .then(() => {
          this.running = null;
          this.schedule();
        });
    }, this.config.accounting.intervalSeconds * 1000);
    this.timer.unref?.();
  }

  /** One round: give up on jobs too old, ask for the rest in ONE call, store what came back. */
  async tick(): Promise<void> {
    const a = this.config.accounting;
    const ids = this.store.pending(a.batchSize, new Date(Date.now() - a.giveUpAfterHours * 3_600_000));
    if (ids.length === 0) return;
    this.calls++;
    let report;
    try {
      report = await this.cluster.accounting(ids);
    } catch (err) {
      this.sink?.accountingCall('error', 0);
      throw err;
    }
    if (!report.scheduler.available) {
      this.store.markUnavailable(ids, report.scheduler.error ?? `the ${report.scheduler.name} scheduler keeps no accounting`);
      this.sink?.accountingCall('unavailable', 0);
      this.log.info({ jobs: ids.length, why: report.scheduler.error }, 'no scheduler accounting; usage reports what the bridge saw for these jobs');
      return;
    }
    if (!report.scheduler.reachable) {
      this.sink?.accountingCall('error', 0);
      this.log.warn({ jobs: ids.length, err: report.scheduler.error }, 'scheduler accounting did not answer; asking again next interval');
      return;
    }
    const n = this.store.record(ids, report.jobs);
    this.sink?.accountingCall('ok', n);
    this.log.debug({ asked: ids.length, recorded: n }, 'scheduler accounting stored');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
