// The orphan reaper: a session has at most one job, ever. A submit that was killed or timed
// out after the scheduler accepted the job can leave a job no session owns (the session
// failed, or a retry submitted again). Every job carries its session's marker, so ONE
// `hpc-wrap marked-jobs` call per interval finds them; jobs of ended sessions and
// duplicates of a live session's job are cancelled after a grace period, with an event.
// Jobs whose session this bridge does not know are left alone (another bridge's, or pruned).
import type { Logger } from 'pino';
import type { HpcWrapClient } from '../cluster/hpc-wrap-client.js';
import type { SessionStore } from '../store/session-store.js';
import type { SessionService } from './session-service.js';
import { isTerminal } from './types.js';

export interface ReaperTiming {
  intervalMs: number;
  graceMs: number;
}

export class OrphanReaper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** Jobs cancelled so far (for tests and metrics). */
  readonly reaped: Array<{ jobId: string; sessionId: string; why: string }> = [];

  constructor(
    private readonly store: SessionStore,
    private readonly service: SessionService,
    private readonly cluster: HpcWrapClient,
    private readonly timing: ReaperTiming,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (!this.running) this.running = this.sweep().finally(() => (this.running = null));
    }, this.timing.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One pass: list the marked jobs, cancel those no live session owns. */
  async sweep(now = Date.now()): Promise<void> {
    let report;
    try {
      report = await this.cluster.markedJobs();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'orphan reaper: could not list marked jobs');
      return;
    }
    if (!report.reachable) return;
    for (const job of report.jobs) {
      const s = this.store.get(job.sessionId);
      if (!s) continue;
      const settledFor = now - Date.parse(s.updatedAt);
      let why: string | null = null;
      if (isTerminal(s.state)) why = `its session ended (${s.state})`;
      else if (s.jobId !== null && s.jobId !== job.jobId) why = `it duplicates job ${s.jobId} of the same session`;
      if (why === null || settledFor < this.timing.graceMs) continue;
      try {
        await this.cluster.killJob({ jobId: job.jobId, sessionId: s.id, user: s.user, keepSpool: !isTerminal(s.state) });
      } catch (err) {
        this.log.warn({ session: s.id, jobId: job.jobId, err: (err as Error).message }, 'orphan reaper: cancel failed; will retry');
        continue;
      }
      this.reaped.push({ jobId: job.jobId, sessionId: s.id, why });
      this.service.emit(s.id, 'info', `Cancelled batch job ${job.jobId} left behind by an interrupted submit: ${why}.`);
      this.log.warn({ session: s.id, jobId: job.jobId, why }, 'orphan job cancelled');
    }
  }
}
