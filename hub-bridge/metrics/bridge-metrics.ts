// Every Prometheus metric the bridge exports, in its own registry. Sessions by state are
// the store's own live counts (kept as it writes; no query at scrape time), tunnels by
// state are counted as they change; everything else is counted as it happens through the
// lifecycle hooks. A scrape costs the same with 10 or 10,000 sessions in the store. Labels are bounded: state, profile, cause, route,
// outcome, direction; never a user, session or job id.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FailureInfo, PollObserver, PollOutcome, SessionObserver } from '../sessions/lifecycle-observer.js';
import { SESSION_STATES, TERMINAL_STATES, type Session } from '../sessions/types.js';
import type { SessionStore } from '../store/session-store.js';
import { VERSION } from '../version.js';
import { FAILURE_CAUSES, failureCause } from './failure-cause.js';
import { replaceOpenFdsGauge } from './open-fds.js';
import { renderText } from './prom-text.js';
import type { TunnelDirection, TunnelMetrics, TunnelState } from './tunnel-metrics.js';

const LIVE_STATES = SESSION_STATES.filter((s) => !TERMINAL_STATES.includes(s));
const TUNNEL_STATES: readonly TunnelState[] = ['connecting', 'up', 'down'];
const POLL_FAILURES = ['unreachable', 'transport'] as const;
const ACCOUNTING_RESULTS = ['ok', 'unavailable', 'error'] as const;

export interface BridgeMetricsOptions {
  /** The bridge's store: its live counts give sessions by state; job and event rows give queue waits and outcomes. */
  store: SessionStore;
  /** Profile names from the config: their series exist (at 0) from the start. */
  profiles: string[];
  /** Node.js process metrics (process_*, nodejs_*); off in tests that build many registries. */
  processMetrics?: boolean;
}

export class BridgeMetrics {
  readonly registry = new Registry();
  readonly sessions: SessionObserver;
  readonly poller: PollObserver;
  readonly tunnel: TunnelMetrics;

  readonly httpDuration: Histogram<'method' | 'route' | 'code'>;
  private readonly started: Counter<'profile'>;
  private readonly readyTotal: Counter<'profile'>;
  private readonly ended: Counter<'profile' | 'outcome'>;
  private readonly spawnDuration: Histogram<'profile'>;
  private readonly queueWait: Histogram<'profile'>;
  private readonly failures: Counter<'cause'>;
  private readonly pollDuration: Histogram;
  private readonly pollJobs: Histogram;
  private readonly pollFailures: Counter<'kind'>;
  private readonly reachable: Gauge;
  private readonly tunnelReconnects: Counter;
  private readonly tunnelBytes: Counter<'direction'>;
  private readonly accountingCalls: Counter<'result'>;
  private readonly accountingJobs: Counter;
  private readonly tunnelStates = new Map<string, TunnelState>();
  private readonly tunnelCounts: Record<TunnelState, number> = { connecting: 0, up: 0, down: 0 };

  constructor(opts: BridgeMetricsOptions) {
    const register = [this.registry];
    const profiles = [...new Set(opts.profiles)];
    const store = opts.store;
    const db = store.database;
    const submittedAt = db.prepare('SELECT submitted_at FROM jobs WHERE job_id = ? AND session_id = ?');
    const wasReady = db.prepare("SELECT 1 FROM events WHERE session_id = ? AND kind = 'ready' LIMIT 1");

    new Gauge({ name: 'hpc_bridge_build_info', help: 'Always 1; the version label says which bridge runs.', labelNames: ['version'], registers: register }).set({ version: VERSION }, 1);
    new Gauge({
      name: 'hpc_bridge_sessions',
      help: 'Live sessions by state and profile (as in the bridge database; counted as sessions change).',
      labelNames: ['state', 'profile'],
      registers: register,
      collect() {
        // configured profiles always (at 0); a profile no longer configured while its sessions live
        this.reset();
        for (const state of LIVE_STATES) for (const profile of profiles) this.set({ state, profile }, 0);
        for (const c of store.liveCounts()) this.set({ state: c.state, profile: c.profile }, c.n);
      },
    });
    this.started = new Counter({ name: 'hpc_bridge_sessions_started_total', help: 'Start requests accepted.', labelNames: ['profile'], registers: register });
    this.readyTotal = new Counter({ name: 'hpc_bridge_sessions_ready_total', help: 'Sessions whose server became ready.', labelNames: ['profile'], registers: register });
    this.ended = new Counter({
      name: 'hpc_bridge_sessions_ended_total',
      help: 'Sessions that ended: stopped (after ready), abandoned (stopped before ready: the hub gave up or the user cancelled), failed.',
      labelNames: ['profile', 'outcome'],
      registers: register,
    });
    this.spawnDuration = new Histogram({
      name: 'hpc_bridge_spawn_duration_seconds',
      help: 'From the start request to a ready server (queue wait included).',
      labelNames: ['profile'],
      buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600],
      registers: register,
    });
    this.queueWait = new Histogram({
      name: 'hpc_bridge_queue_wait_seconds',
      help: 'From the job submission to the scheduler running it.',
      labelNames: ['profile'],
      buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400],
      registers: register,
    });
    this.failures = new Counter({
      name: 'hpc_bridge_spawn_failures_total',
      help: `Failed spawns by cause (${FAILURE_CAUSES.join(', ')}).`,
      labelNames: ['cause'],
      registers: register,
    });
    this.pollDuration = new Histogram({
      name: 'hpc_bridge_status_poll_duration_seconds',
      help: 'Duration of the ONE jobstate call per status poll.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers: register,
    });
    this.pollJobs = new Histogram({
      name: 'hpc_bridge_status_poll_jobs',
      help: 'Job ids asked for in one status poll.',
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
      registers: register,
    });
    this.pollFailures = new Counter({
      name: 'hpc_bridge_status_poll_failures_total',
      help: 'Status polls that failed: unreachable (hpc-wrap ran, the scheduler did not answer), transport (hpc-wrap could not be run).',
      labelNames: ['kind'],
      registers: register,
    });
    this.reachable = new Gauge({ name: 'hpc_bridge_scheduler_reachable', help: '1 when the last status poll reached the scheduler, else 0.', registers: register });
    const tunnelCounts = this.tunnelCounts;
    new Gauge({
      name: 'hpc_bridge_tunnels',
      help: 'Tunnels of live sessions by their last reported state.',
      labelNames: ['state'],
      registers: register,
      collect() {
        for (const state of TUNNEL_STATES) this.set({ state }, tunnelCounts[state]);
      },
    });
    this.tunnelReconnects = new Counter({ name: 'hpc_bridge_tunnel_reconnects_total', help: 'Tunnels that came up again after being down.', registers: register });
    this.tunnelBytes = new Counter({
      name: 'hpc_bridge_tunnel_bytes_total',
      help: 'Bytes relayed through notebook tunnels on the hub side, by direction (to_notebook = hub to notebook).',
      labelNames: ['direction'],
      registers: register,
    });
    this.httpDuration = new Histogram({
      name: 'hpc_bridge_http_request_duration_seconds',
      help: 'API request latency by route template (event streams are not timed).',
      labelNames: ['method', 'route', 'code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: register,
    });
    this.accountingCalls = new Counter({
      name: 'hpc_bridge_accounting_calls_total',
      help: "Accounting calls (hpc-wrap accounting): ok, unavailable (the scheduler keeps no accounting), error.",
      labelNames: ['result'],
      registers: register,
    });
    this.accountingJobs = new Counter({ name: 'hpc_bridge_accounting_jobs_recorded_total', help: "Jobs whose scheduler accounting was stored.", registers: register });
    if (opts.processMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      // gauges named *_total (promtool's lint rejects them); the same counts are in nodejs_active_handles etc.
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
      // measured by waiting for the next event-loop turn inside every scrape (~3 ms of latency,
      // more on a busy host); nodejs_eventloop_lag_{p50,p90,p99,...}_seconds say the same without waiting
      this.registry.removeSingleMetric('nodejs_eventloop_lag_seconds');
      // the same gauge counted with one stat instead of listing every descriptor (open-fds.ts)
      replaceOpenFdsGauge(this.registry);
    }

    // Every bounded series exists from the start, so rate() and ratios work at once.
    for (const profile of profiles) {
      this.started.inc({ profile }, 0);
      this.readyTotal.inc({ profile }, 0);
      for (const outcome of ['stopped', 'abandoned', 'failed']) this.ended.inc({ profile, outcome }, 0);
    }
    for (const cause of FAILURE_CAUSES) this.failures.inc({ cause }, 0);
    for (const kind of POLL_FAILURES) this.pollFailures.inc({ kind }, 0);
    for (const direction of ['to_notebook', 'from_notebook']) this.tunnelBytes.inc({ direction }, 0);
    for (const result of ACCOUNTING_RESULTS) this.accountingCalls.inc({ result }, 0);
    this.reachable.set(1);

    const secondsSince = (iso: string | null | undefined) => {
      const t = iso ? Date.parse(iso) : NaN;
      return Number.isNaN(t) ? null : Math.max(0, (Date.now() - t) / 1000);
    };
    this.sessions = {
      created: (s: Session) => this.started.inc({ profile: s.profile }),
      running: (s: Session) => {
        const row = s.jobId ? (submittedAt.get(s.jobId, s.id) as { submitted_at: string } | undefined) : undefined;
        const wait = secondsSince(row?.submitted_at);
        if (wait !== null) this.queueWait.observe({ profile: s.profile }, wait);
      },
      ready: (s: Session) => {
        this.readyTotal.inc({ profile: s.profile });
        const took = secondsSince(s.createdAt);
        if (took !== null) this.spawnDuration.observe({ profile: s.profile }, took);
      },
      failed: (s: Session, info: FailureInfo) => {
        this.failures.inc({ cause: failureCause(info) });
        this.ended.inc({ profile: s.profile, outcome: 'failed' });
        this.setTunnel(s.id, null);
      },
      stopped: (s: Session) => {
        this.ended.inc({ profile: s.profile, outcome: wasReady.get(s.id) ? 'stopped' : 'abandoned' });
        this.setTunnel(s.id, null);
      },
      tunnel: (s: Session, state: string, before: string | null) => {
        if (!TUNNEL_STATES.includes(state as TunnelState)) return;
        this.setTunnel(s.id, state as TunnelState);
        if (state === 'up' && before === 'down') this.tunnelReconnects.inc();
      },
    };
    this.poller = {
      polled: (p: PollOutcome) => {
        this.pollDuration.observe(p.seconds);
        this.pollJobs.observe(p.jobs);
        this.reachable.set(p.outcome === 'ok' ? 1 : 0);
        if (p.outcome !== 'ok') this.pollFailures.inc({ kind: p.outcome });
      },
    };
    // per-chunk calls from the tunnel relay: the two series are looked up once
    const bytesBy = { to_notebook: this.tunnelBytes.labels({ direction: 'to_notebook' }), from_notebook: this.tunnelBytes.labels({ direction: 'from_notebook' }) };
    this.tunnel = {
      state: (sessionId, state) => this.setTunnel(sessionId, state === 'closed' ? null : state),
      reconnected: () => this.tunnelReconnects.inc(),
      bytes: (direction: TunnelDirection, n: number) => {
        if (Number.isFinite(n) && n > 0) bytesBy[direction]?.inc(n);
      },
    };
  }

  /** The tunnel of a live session is now in `state` (null: forgotten); the counts follow. */
  private setTunnel(sessionId: string, state: TunnelState | null): void {
    const before = this.tunnelStates.get(sessionId);
    if (before === state) return;
    if (before !== undefined) this.tunnelCounts[before]--;
    if (state === null) this.tunnelStates.delete(sessionId);
    else {
      this.tunnelStates.set(sessionId, state);
      this.tunnelCounts[state]++;
    }
  }

  /** One accounting call's result (hub-bridge/accounting). */
  accountingCall(result: (typeof ACCOUNTING_RESULTS)[number], jobsRecorded: number): void {
    this.accountingCalls.inc({ result });
    if (jobsRecorded > 0) this.accountingJobs.inc(jobsRecorded);
  }

  /** The text Prometheus scrapes (prom-text.ts writes it; prom-client's values). */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await renderText(this.registry) };
  }
}
