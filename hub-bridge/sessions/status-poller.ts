// ONE `hpc-wrap jobstate` call per interval for ALL live jobs; a shorter interval while
// any session is starting. Results go to the store, which the API reads: API reads never
// reach the scheduler.
import type { Logger } from 'pino';
import type { HpcWrapClient } from '../cluster/hpc-wrap-client.js';
import type { SessionStore } from '../store/session-store.js';
import { Observers, type PollObserver } from './lifecycle-observer.js';
import type { SessionService } from './session-service.js';

export interface PollerTiming {
  intervalMs: number;
  startingIntervalMs: number;
}

export class StatusPoller {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** Number of jobstate calls made (for metrics and benchmarks). */
  calls = 0;
  /** Metrics watch each poll here. */
  readonly observers: Observers<PollObserver>;

  constructor(
    private readonly store: SessionStore,
    private readonly service: SessionService,
    private readonly cluster: HpcWrapClient,
    private readonly timing: PollerTiming,
    private readonly log: Logger,
  ) {
    this.observers = new Observers(log);
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** A session was created or changed: poll at the starting pace from now on. */
  wake(): void {
    if (this.stopped || this.running || !this.timer) return;
    if (this.dueAt - Date.now() <= this.timing.startingIntervalMs) return;
    clearTimeout(this.timer);
    this.schedule(this.timing.startingIntervalMs);
  }

  private dueAt = 0;
  private again = false;

  /**
   * The cluster pushed a change to this session (agent run-dir event): poll at once, or right
   * after the poll that runs. (With per-session pacing, `sessionId` is what must be due.)
   */
  pollNow(_sessionId?: string): void {
    if (this.stopped || !this.timer) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.dueAt = Date.now() + ms;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .catch((err) => this.log.error({ err: (err as Error).message }, 'status poll failed'))
        .then(() => {
          this.running = null;
          const now = this.again;
          this.again = false;
          this.schedule(now ? 0 : this.nextDelay());
        });
    }, ms);
    this.timer.unref?.();
  }

  private nextDelay(): number {
    const starting = this.store.live().some((s) => s.state === 'submitting' || s.state === 'queued' || s.state === 'starting' || s.state === 'stopping');
    return starting ? this.timing.startingIntervalMs : this.timing.intervalMs;
  }

  /** One poll: one jobstate call for every live session that has a job. */
  async tick(): Promise<void> {
    const live = this.store.live().filter((s) => s.jobId);
    if (live.length === 0) return;
    this.calls++;
    let report;
    const t0 = performance.now();
    const seconds = () => (performance.now() - t0) / 1000;
    try {
      report = await this.cluster.jobState(live.map((s) => ({ jobId: s.jobId!, sessionId: s.id, user: s.user })));
    } catch (err) {
      this.observers.notify('polled', { seconds: seconds(), jobs: live.length, outcome: 'transport' });
      this.service.markUnreachable(live, (err as Error).message);
      return;
    }
    this.observers.notify('polled', { seconds: seconds(), jobs: live.length, outcome: report.scheduler.reachable ? 'ok' : 'unreachable' });
    await Promise.all(
      live.map(async (s) => {
        const st = report.jobs[s.jobId!];
        const cur = this.store.get(s.id);
        if (!st || !cur || cur.state !== s.state) return;
        await this.service.apply(cur, st);
      }),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
