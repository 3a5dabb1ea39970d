// ONE `hpc-wrap jobstate` call per tick for every live job that is due. Each session has its
// own pace (poll-pace.ts): starting and stopping ones at the starting pace, queued ones ever
// less often up to status.queuedIntervalSeconds (a queued job in the request makes hpc-wrap
// read queue positions, the costly part), settled ones at status.intervalSeconds. Results
// go to the store, which the API reads: API reads never reach the scheduler.
import type { Logger } from 'pino';
import type { HpcWrapClient } from '../cluster/hpc-wrap-client.js';
import type { SessionStore } from '../store/session-store.js';
import { Observers, type PollObserver } from './lifecycle-observer.js';
import { PollPace, type PollerTiming } from './poll-pace.js';
import type { SessionService } from './session-service.js';
import type { SessionState } from './types.js';

export type { PollerTiming } from './poll-pace.js';

/** States in which applying the same report again changes nothing (no probe, no timer). */
const SETTLED_WHILE_UNCHANGED: ReadonlySet<SessionState> = new Set(['queued', 'ready']);

export class StatusPoller {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private lastTickAt = -Infinity;
  private dueAt = 0;
  /** Number of jobstate calls made (for metrics and benchmarks). */
  calls = 0;
  /** Metrics watch each poll here. */
  readonly observers: Observers<PollObserver>;
  readonly pace: PollPace;
  /** Each session's last applied report (with its state then), to skip re-applying the same. */
  private readonly lastReport = new Map<string, string>();

  constructor(
    private readonly store: SessionStore,
    private readonly service: SessionService,
    private readonly cluster: HpcWrapClient,
    private readonly timing: PollerTiming,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.observers = new Observers(log);
    this.pace = new PollPace(timing);
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /**
   * A session was created or changed (or its server or tunnel came up): ask about it at the
   * next tick, no later than the starting pace allows. `sessionId` absent: every session
   * that is starting or stopping.
   */
  wake(sessionId?: string): void {
    if (sessionId) this.pace.dueNow(sessionId, this.now());
    else this.pace.startingDueNow(this.now());
    if (this.stopped || this.running || !this.timer) return;
    const at = Math.max(this.now(), this.lastTickAt + this.timing.startingIntervalMs);
    if (this.dueAt <= at) return;
    clearTimeout(this.timer);
    this.schedule(at - this.now());
  }

  private again = false;

  /**
   * The cluster pushed a change to this session (agent run-dir event): that session is due
   * now, and the poll runs at once (or right after the poll that runs), whatever the pace.
   */
  pollNow(sessionId?: string): void {
    if (sessionId) this.pace.dueNow(sessionId, this.now());
    else this.pace.startingDueNow(this.now());
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
    this.dueAt = this.now() + ms;
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

  /** Until the next session is due; never two ticks closer than the starting pace. */
  nextDelay(): number {
    const now = this.now();
    const next = this.pace.nextDue();
    const earliest = this.lastTickAt + this.timing.startingIntervalMs;
    const at = next === null ? now + this.timing.intervalMs : Math.max(next, earliest);
    return Math.max(0, at - now);
  }

  /** One poll: one jobstate call for every live session with a job that is due. */
  async tick(): Promise<void> {
    const now = this.now();
    this.lastTickAt = now;
    const live = this.store.live().filter((s) => s.jobId);
    const due = this.pace.due(live, now);
    if (due.length === 0) return;
    this.calls++;
    let report;
    const t0 = performance.now();
    const seconds = () => (performance.now() - t0) / 1000;
    try {
      report = await this.cluster.jobState(due.map((s) => ({ jobId: s.jobId!, sessionId: s.id, user: s.user })));
    } catch (err) {
      this.observers.notify('polled', { seconds: seconds(), jobs: due.length, outcome: 'transport' });
      this.service.markUnreachable(due, (err as Error).message);
      this.pace.asked(due, this.now());
      return;
    }
    this.observers.notify('polled', { seconds: seconds(), jobs: due.length, outcome: report.scheduler.reachable ? 'ok' : 'unreachable' });
    const applied = new Set<string>();
    await Promise.all(
      due.map(async (s) => {
        const st = report.jobs[s.jobId!];
        if (!st) return;
        // A queued or ready session whose report is the one it had last time: nothing to
        // apply, nothing to write (the bridge's work per idle poll stays small at any N).
        const seen = `${s.state}\u0000${JSON.stringify(st)}`;
        if (SETTLED_WHILE_UNCHANGED.has(s.state) && s.schedulerReachable && this.lastReport.get(s.id) === seen) return;
        const cur = this.store.get(s.id);
        if (!cur || cur.state !== s.state) return;
        applied.add(s.id);
        await this.service.apply(cur, st, report.scheduler.batchSystem === false ? 'local' : 'batch');
        this.lastReport.set(s.id, seen);
      }),
    );
    if (this.lastReport.size > live.length) {
      const ids = new Set(live.map((s) => s.id));
      for (const id of this.lastReport.keys()) if (!ids.has(id)) this.lastReport.delete(id);
    }
    // The next time each is asked follows from the state it is in now: read again only where a
    // report was applied (a state changed elsewhere meanwhile shows in the next tick's due()).
    this.pace.asked(due.map((s) => (applied.has(s.id) ? (this.store.get(s.id) ?? s) : s)), this.now());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
