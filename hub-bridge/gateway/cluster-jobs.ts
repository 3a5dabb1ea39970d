// How the gateway asks the scheduler about launch jobs: `hpc-wrap launch-jobs` through the
// same Transport the bridge uses (local or pooled SSH to the login node), ONE call per
// poll for all routes' owners, and registrations checked in batches (every registration
// that arrives while a check runs waits for the next one, so 500 at once cost a few calls).
import { launchJobsReportSchema, type LaunchJob, type LaunchJobsReport } from '../../contract/launch.js';
import { TransportError, type Transport } from '../transport/types.js';

export interface ClusterJobs {
  /** Launch jobs of `users` and the jobs `ids` (any comment). Never throws for an unreachable scheduler. */
  query(users: string[], ids: string[]): Promise<LaunchJobsReport>;
}

export class HpcWrapLaunchJobs implements ClusterJobs {
  calls = 0;

  constructor(
    private readonly transport: Transport,
    private readonly hpcWrap: readonly string[],
    private readonly timeoutMs: number,
  ) {}

  async query(users: string[], ids: string[]): Promise<LaunchJobsReport> {
    const argv = [...this.hpcWrap, 'launch-jobs', ...users.flatMap((u) => ['--user', u]), ...ids.flatMap((j) => ['--job', j])];
    this.calls++;
    try {
      const r = await this.transport.run(argv, { timeoutMs: this.timeoutMs });
      let doc: unknown;
      try {
        doc = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
      } catch {
        doc = undefined;
      }
      const parsed = launchJobsReportSchema.safeParse(doc);
      if (r.exitCode === 0 && parsed.success) return parsed.data;
      const detail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' | ').slice(0, 500);
      return unreachable(`hpc-wrap launch-jobs failed (exit ${r.exitCode}): ${detail || 'no output'}`);
    } catch (err) {
      return unreachable(err instanceof TransportError ? err.message : `hpc-wrap launch-jobs: ${(err as Error).message}`);
    }
  }
}

function unreachable(error: string): LaunchJobsReport {
  return { scheduler: { name: 'unknown', reachable: false, error }, jobs: [] };
}

export type JobCheck = { ok: true; job: LaunchJob } | { ok: false; unreachable: boolean; error: string };

/** Coalesces job checks: at most one query runs at a time, and it carries every id waiting. */
export class JobChecker {
  private waiting = new Map<string, ((c: JobCheck) => void)[]>();
  private running: Promise<void> | null = null;
  private pending = 0;

  constructor(
    private readonly jobs: ClusterJobs,
    private readonly maxPending: number,
    /** How long the first waiting check waits for others to join its query. */
    private readonly windowMs = 25,
    /** Ids per query (a very long --job list is split). */
    private readonly batchSize = 1000,
  ) {}

  get queued(): number {
    return this.pending;
  }

  /** Throws when too many checks are waiting (the caller answers 503). */
  check(jobId: string): Promise<JobCheck> {
    if (this.pending >= this.maxPending) throw new Error('too many registrations are waiting for the scheduler; try again in a moment');
    this.pending++;
    return new Promise((resolve) => {
      const list = this.waiting.get(jobId) ?? [];
      list.push((c) => {
        this.pending--;
        resolve(c);
      });
      this.waiting.set(jobId, list);
      this.kick();
    });
  }

  private kick(): void {
    if (this.running) return;
    this.running = (async () => {
      // Let registrations that arrive meanwhile (TLS handshakes take time) join this query.
      await new Promise((r) => setTimeout(r, this.windowMs));
      while (this.waiting.size) {
        const batch = new Map([...this.waiting.entries()].slice(0, this.batchSize));
        for (const id of batch.keys()) this.waiting.delete(id);
        const report = await this.jobs.query([], [...batch.keys()]);
        for (const [id, resolvers] of batch) {
          const job = report.jobs.find((j) => j.id === id);
          const result: JobCheck = !report.scheduler.reachable
            ? { ok: false, unreachable: true, error: report.scheduler.error ?? 'the scheduler did not answer' }
            : job
              ? { ok: true, job }
              : { ok: false, unreachable: false, error: `job ${id} is not known to the scheduler` };
          for (const r of resolvers) r(result);
        }
      }
    })().finally(() => {
      this.running = null;
      if (this.waiting.size) this.kick();
    });
  }
}
