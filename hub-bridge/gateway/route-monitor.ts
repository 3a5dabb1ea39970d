// Keeps every route equal to what the scheduler says: ONE `launch-jobs` query per interval
// for the owners of all routes (faster while any route waits), then per route the live
// launch job of its owner whose comment carries its secret hash (a keep-alive successor
// takes over the route), its node and announced port, and a readiness probe. A route
// whose owner has no such job left is removed at once, so it is gone at most one poll
// interval after its job ends. A scheduler that does not answer changes nothing until
// maxUnverifiedSeconds, after which routes stop proxying until it answers again.
import { parseComment, type LaunchJob, type LaunchJobsReport } from '../../contract/launch.js';
import type { GatewayConfig } from '../../config/schema-gateway.js';
import type { AuditLog } from './audit-log.js';
import { probeBackend, type BackendResolver } from './backend.js';
import type { ClusterJobs } from './cluster-jobs.js';
import { routeFingerprint, routePhase, type Route } from './route.js';
import type { RouteStore } from './route-store.js';
import type { RouteTable } from './route-table.js';

const LIVE = new Set(['pending', 'running', 'completing']);

function jobNumber(id: string): number {
  return Number(/^\d+/.exec(id)?.[0] ?? 0);
}

/** The job a route follows now: a running one first, else the newest pending one. */
export function currentJob(route: Route, jobs: readonly LaunchJob[]): LaunchJob | null {
  const mine = jobs.filter((j) => j.user === route.record.owner && LIVE.has(j.state) && parseComment(j.comment)?.hash === route.record.secretHash);
  const running = mine.filter((j) => j.state !== 'pending').sort((a, b) => jobNumber(b.id) - jobNumber(a.id));
  if (running[0]) return running[0];
  return mine.sort((a, b) => jobNumber(b.id) - jobNumber(a.id))[0] ?? null;
}

export interface MonitorDeps {
  config: GatewayConfig;
  table: RouteTable;
  store: RouteStore;
  jobs: ClusterJobs;
  resolver: BackendResolver;
  audit: AuditLog;
  basePath(route: Route): string;
  now?: () => number;
}

export class RouteMonitor {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  lastReport: LaunchJobsReport | null = null;

  constructor(private readonly d: MonitorDeps) {}

  private now(): number {
    return this.d.now?.() ?? Date.now();
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Poll soon (a new route, a proxy error). */
  wake(): void {
    if (this.stopped || this.running) return;
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.tick()
        .catch((err: Error) => {
          process.stderr.write(`hpc-bridge gateway: route check failed: ${err.message}\n`);
        })
        .finally(() => {
          this.running = null;
          this.schedule(this.interval());
        });
    }, ms);
    this.timer.unref?.();
  }

  private interval(): number {
    const c = this.d.config;
    const now = this.now();
    const waiting = this.d.table.all().some((r) => r.live.endedAt === null && routePhase(r, now, c.maxUnverifiedSeconds * 1000) !== 'ready');
    return (waiting ? c.startingPollIntervalSeconds : c.pollIntervalSeconds) * 1000;
  }

  /** One round: one scheduler query, then every route updated. Exposed for tests. */
  async tick(): Promise<void> {
    this.purgeEnded();
    const routes = this.d.table.all().filter((r) => r.live.endedAt === null);
    if (!routes.length) return;
    const owners = [...new Set(routes.map((r) => r.record.owner))];
    const report = await this.d.jobs.query(owners, []);
    this.lastReport = report;
    if (!report.scheduler.reachable) return; // keep the last verified state; routePhase ages it out
    const now = this.now();
    await Promise.all(routes.map((r) => this.update(r, currentJob(r, report.jobs), now)));
  }

  private async update(route: Route, job: LaunchJob | null, now: number): Promise<void> {
    const fp = routeFingerprint(route.record.label);
    const l = route.live;
    if (route.live.endedAt !== null) return; // removed meanwhile (stop)
    if (!job) {
      this.end(route, l.job ? `job ${l.job.id} ended` : `job ${route.record.jobId} is no longer listed`);
      return;
    }
    if (job.id !== route.record.jobId) {
      this.d.audit.write('job-moved', { route: fp, owner: route.record.owner, from: route.record.jobId, jobId: job.id });
      route.record.jobId = job.id;
      this.d.store.setJob(route.record.label, job.id);
    }
    const port = parseComment(job.comment)?.port ?? null;
    const portOk = port !== null && port >= this.d.config.backendPorts.start && port <= this.d.config.backendPorts.end;
    const moved = l.job?.id !== job.id || l.job?.node !== job.node || l.port !== (portOk ? port : null) || job.state === 'pending';
    l.job = job;
    l.port = portOk ? port : null;
    l.verifiedAt = now;
    this.d.resolver.routeVerified?.(route);
    if (moved && l.ready) this.down(route, 'the job or its port changed');
    if (l.ready) return;
    const target = this.d.resolver.target(route);
    if (!target) {
      l.probeError = port !== null && !portOk ? `the job announced port ${port}, outside backendPorts` : (this.d.resolver.waitingFor?.(route) ?? null);
      return;
    }
    const probe = await probeBackend(target, this.d.basePath(route), route.record.jupyterToken, this.d.config.probeTimeoutSeconds * 1000);
    if (route.live.endedAt !== null || route.live.job !== job) return;
    l.probeError = probe.error;
    if (probe.ok) {
      l.ready = true;
      this.d.audit.write('route-up', { route: fp, owner: route.record.owner, jobId: job.id, node: job.node, port });
    }
  }

  /** A proxy call failed: stop routing until the next probe succeeds. */
  down(route: Route, why: string): void {
    if (!route.live.ready) return;
    route.live.ready = false;
    this.d.audit.write('route-down', { route: routeFingerprint(route.record.label), owner: route.record.owner, jobId: route.record.jobId, reason: why });
    this.wake();
  }

  /** The route's job is over (or `stop` asked): nothing is proxied any more; the label shows "ended" for a while. */
  end(route: Route, why: string): void {
    if (route.live.endedAt !== null) return;
    if (route.live.ready) this.down(route, why);
    route.live.endedAt = this.now();
    route.live.endReason = why;
    this.d.resolver.routeEnded?.(route);
    this.d.store.remove(route.record.label);
    this.d.audit.write('removed', { route: routeFingerprint(route.record.label), owner: route.record.owner, jobId: route.record.jobId, reason: why });
  }

  private purgeEnded(): void {
    const keep = this.d.config.endedRetentionSeconds * 1000;
    const now = this.now();
    for (const r of this.d.table.all()) if (r.live.endedAt !== null && now - r.live.endedAt > keep) this.d.table.remove(r);
  }
}
