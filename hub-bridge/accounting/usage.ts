// Usage over a period, grouped by user, profile, account or day: CPU-hours, GPU-hours,
// sessions and the median queue wait. The scheduler's accounting (sacct) is used where it
// has a record; otherwise the figures are what the bridge saw itself (run time between
// the polled start and end, times the profile's CPUs and GPUs), and the report says so.
// The same report backs `hpc-bridge usage` and GET /v1/usage.
import type { UsageRow } from './accounting-store.js';

export const USAGE_GROUPS = ['user', 'profile', 'account', 'day'] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

export interface UsageQuery {
  from: Date;
  to: Date;
  by: UsageGroup;
}

export interface UsageLine {
  key: string;
  sessions: number;
  jobs: number;
  cpuHours: number;
  gpuHours: number;
  /** Median seconds from submission to start over the jobs that started; null when none did. */
  medianQueueWaitSeconds: number | null;
}

export interface UsageReport {
  from: string;
  to: string;
  by: UsageGroup;
  source: {
    /** Over the jobs that ended — scheduler: all from the scheduler's accounting; bridge: none; mixed: some. */
    kind: 'scheduler' | 'bridge' | 'mixed' | 'none';
    schedulerJobs: number;
    bridgeJobs: number;
    /** Jobs not over yet: counted in sessions, jobs and queue wait, not yet in CPU/GPU-hours. */
    runningJobs: number;
    /** Why some figures are the bridge's own (e.g. "Slurm accounting storage is disabled"). */
    note: string | null;
  };
  rows: UsageLine[];
  total: UsageLine;
}

const DAY_MS = 86_400_000;

/** `2026-11-01` or a full ISO date-time; throws with what is allowed. */
export function parseWhen(text: string, option: string): Date {
  const t = String(text).trim();
  const ok = /^\d{4}-\d{2}-\d{2}$/.test(t) || /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(t);
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00:00Z` : t);
  if (!ok || Number.isNaN(d.getTime())) throw new Error(`${option} must be a date (2026-11-01, UTC midnight) or an ISO date-time with a zone (2026-11-01T08:00:00Z); got ${JSON.stringify(t.slice(0, 40))}`);
  return d;
}

/** Validates from/to/by as given on a command line or in a query string; defaults: the last 30 days, by user. */
export function usageQuery(raw: { from?: unknown; to?: unknown; by?: unknown }, now = new Date()): UsageQuery {
  const str = (v: unknown, name: string) => {
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw new Error(`${name} must be given once`);
    return v;
  };
  const toText = str(raw.to, 'to');
  const fromText = str(raw.from, 'from');
  const to = toText ? parseWhen(toText, 'to') : now;
  const from = fromText ? parseWhen(fromText, 'from') : new Date(to.getTime() - 30 * DAY_MS);
  if (from.getTime() >= to.getTime()) throw new Error(`from (${from.toISOString()}) must be before to (${to.toISOString()})`);
  const by = str(raw.by, 'by') ?? 'user';
  if (!USAGE_GROUPS.includes(by as UsageGroup)) throw new Error(`by must be one of ${USAGE_GROUPS.join(', ')}; got ${JSON.stringify(by.slice(0, 40))}`);
  return { from, to, by: by as UsageGroup };
}

function seconds(from: string | null, to: string | null): number | null {
  if (!from || !to) return null;
  const s = (Date.parse(to) - Date.parse(from)) / 1000;
  return Number.isFinite(s) && s >= 0 ? s : null;
}

interface JobFigures {
  cpuSeconds: number;
  gpuSeconds: number;
  queueWait: number | null;
  account: string;
  fromScheduler: boolean;
}

function figures(r: UsageRow): JobFigures {
  if (r.acctSource === 'scheduler') {
    const elapsed = r.elapsedSeconds ?? 0;
    return {
      cpuSeconds: r.cpuSeconds ?? 0,
      gpuSeconds: elapsed * (r.allocGpus ?? 0),
      queueWait: seconds(r.schedSubmittedAt, r.schedStartedAt) ?? seconds(r.submittedAt, r.startedAt),
      account: r.account ?? r.reqAccount ?? '(unknown)',
      fromScheduler: true,
    };
  }
  const ran = r.endedAt ? (seconds(r.startedAt, r.endedAt) ?? 0) : 0;
  return {
    cpuSeconds: ran * (r.reqCpus ?? 0),
    gpuSeconds: ran * (r.reqGpus ?? 0),
    queueWait: seconds(r.submittedAt, r.startedAt),
    account: r.reqAccount ?? '(unknown)',
    fromScheduler: false,
  };
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

function line(key: string, rows: Array<{ r: UsageRow; f: JobFigures }>): UsageLine {
  return {
    key,
    sessions: new Set(rows.map((x) => x.r.sessionId)).size,
    jobs: rows.length,
    cpuHours: round(rows.reduce((a, x) => a + x.f.cpuSeconds, 0) / 3600, 6),
    gpuHours: round(rows.reduce((a, x) => a + x.f.gpuSeconds, 0) / 3600, 6),
    medianQueueWaitSeconds: (() => {
      const m = median(rows.map((x) => x.f.queueWait).filter((w): w is number => w !== null));
      return m === null ? null : round(m, 3);
    })(),
  };
}

export function usageReport(q: UsageQuery, rows: UsageRow[]): UsageReport {
  const withFigures = rows.map((r) => ({ r, f: figures(r) }));
  const keyOf = (x: { r: UsageRow; f: JobFigures }): string => {
    switch (q.by) {
      case 'user':
        return x.r.user;
      case 'profile':
        return x.r.profile;
      case 'account':
        return x.f.account;
      case 'day':
        return x.r.submittedAt.slice(0, 10);
    }
  };
  const groups = new Map<string, typeof withFigures>();
  for (const x of withFigures) groups.set(keyOf(x), [...(groups.get(keyOf(x)) ?? []), x]);
  const over = withFigures.filter((x) => x.r.endedAt !== null || x.f.fromScheduler);
  const schedulerJobs = over.filter((x) => x.f.fromScheduler).length;
  const bridgeJobs = over.length - schedulerJobs;
  const notes = [...new Set(over.filter((x) => !x.f.fromScheduler).map((x) => x.r.acctNote ?? 'not asked yet'))];
  return {
    from: q.from.toISOString(),
    to: q.to.toISOString(),
    by: q.by,
    source: {
      kind: over.length === 0 ? 'none' : bridgeJobs === 0 ? 'scheduler' : schedulerJobs === 0 ? 'bridge' : 'mixed',
      schedulerJobs,
      bridgeJobs,
      runningJobs: withFigures.length - over.length,
      note: bridgeJobs === 0 ? null : `${bridgeJobs} job(s) without a scheduler accounting record (${notes.join('; ')}): their figures are what the bridge saw (run time between the polled start and end × the profile's CPUs/GPUs)`,
    },
    rows: [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, xs]) => line(k, xs)),
    total: line('total', withFigures),
  };
}

function csvField(v: string | number | null): string {
  const s = v === null ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function usageCsv(rep: UsageReport): string {
  const header = [rep.by, 'sessions', 'jobs', 'cpu_hours', 'gpu_hours', 'median_queue_wait_seconds'];
  const lines = [header, ...rep.rows.map((l) => [l.key, l.sessions, l.jobs, l.cpuHours, l.gpuHours, l.medianQueueWaitSeconds])];
  return lines.map((l) => l.map(csvField).join(',')).join('\n') + '\n';
}

export function usageTable(rep: UsageReport): string {
  const fmt = (l: UsageLine) => [l.key, String(l.sessions), String(l.jobs), l.cpuHours.toFixed(3), l.gpuHours.toFixed(3), l.medianQueueWaitSeconds === null ? '-' : l.medianQueueWaitSeconds.toFixed(1)];
  const rows = [[rep.by, 'sessions', 'jobs', 'CPU-hours', 'GPU-hours', 'median queue wait (s)'], ...rep.rows.map(fmt), fmt(rep.total)];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const text = rows.map((r) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ')).join('\n');
  const source =
    rep.source.kind === 'scheduler'
      ? 'Source: the scheduler accounting (sacct) for every job.'
      : rep.source.kind === 'none'
        ? rep.total.jobs ? 'No job of this period has ended yet.' : 'No jobs were submitted in this period.'
        : `Source: ${rep.source.note}.`;
  return `Usage ${rep.from} to ${rep.to}, by ${rep.by}\n${text}\n${source}\n`;
}
