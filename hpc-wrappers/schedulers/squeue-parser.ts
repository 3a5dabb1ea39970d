// Parses `squeue --noheader --format=<SQUEUE_FORMAT>` output (recorded real output is in
// test/unit/hpc-wrappers/fixtures/squeue/) and computes queue positions.
import { mapSlurmState } from './slurm-states.js';
import type { JobState, SchedulerJobStatus } from './types.js';

/** id | state | partition | priority | submit time | (estimated) start | reason | nodes */
export const SQUEUE_FORMAT = '%i|%T|%P|%Q|%V|%S|%r|%N';

export interface SqueueRow {
  /** As squeue prints it: `123`, `123_4`, `123_[0-2%1]`, `123+0`; `;cluster` appended with -M. */
  id: string;
  baseId: string;
  cluster: string | null;
  rawState: string;
  state: JobState;
  partition: string;
  priority: number;
  submitTime: string | null;
  startTime: string | null;
  reason: string | null;
  nodes: string | null;
  /** How many jobs this row stands for (a pending array range counts each task). */
  weight: number;
  position: number | null;
}

const EMPTY = new Set(['', 'N/A', 'NONE', 'UNKNOWN', '(NULL)']);

function orNull(s: string | undefined): string | null {
  const t = (s ?? '').trim();
  return EMPTY.has(t.toUpperCase()) ? null : t;
}

/** squeue prints local time without a zone (e.g. 2026-11-22T00:00:06); hpc-wrap runs on the same host. */
export function slurmTimeToIso(s: string | null): string | null {
  if (!s) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(s);
  if (!m) return null;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(y, mo - 1, d, h, mi, se);
  return Number.isNaN(date.getTime()) ? null : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `123_[0-5,7%2]` → 7 tasks; anything else → 1. */
export function arrayTaskCount(id: string): number {
  const m = /_\[([^\]]+)\]$/.exec(id);
  if (!m) return 1;
  let n = 0;
  for (const part of (m[1] ?? '').split('%')[0]!.split(',')) {
    const r = /^(\d+)(?:-(\d+))?(?::(\d+))?$/.exec(part);
    if (!r) return 1;
    const lo = Number(r[1]);
    const hi = r[2] === undefined ? lo : Number(r[2]);
    const step = r[3] === undefined ? 1 : Math.max(1, Number(r[3]));
    n += hi >= lo ? Math.floor((hi - lo) / step) + 1 : 0;
  }
  return Math.max(1, n);
}

export function baseJobId(id: string): string {
  return id.split(/[_+]/)[0] ?? id;
}

export function parseSqueue(stdout: string): SqueueRow[] {
  const rows: SqueueRow[] = [];
  let cluster: string | null = null;
  for (const rawLine of stdout.split('\n')) {
    const line = rawLine.trimEnd();
    if (!line.trim()) continue;
    const header = /^CLUSTER:\s*(\S+)\s*$/.exec(line.trim());
    if (header) {
      cluster = header[1] ?? null;
      continue;
    }
    const f = line.split('|');
    if (f.length < 8) continue; // not one of our rows (a warning line)
    const id = (f[0] ?? '').trim();
    if (!id) continue;
    const nodes = f[f.length - 1];
    const reason = f.slice(6, -1).join('|');
    const priority = Number((f[3] ?? '').trim());
    const rawState = (f[1] ?? '').trim();
    const state = mapSlurmState(rawState);
    rows.push({
      id: cluster ? `${id};${cluster}` : id,
      baseId: cluster ? `${baseJobId(id)};${cluster}` : baseJobId(id),
      cluster,
      rawState,
      state,
      partition: (f[2] ?? '').trim(),
      priority: Number.isFinite(priority) ? priority : 0,
      submitTime: orNull(f[4]),
      startTime: orNull(f[5]),
      reason: orNull(reason),
      nodes: orNull(nodes),
      weight: arrayTaskCount(id),
      position: null,
    });
  }
  assignPositions(rows);
  return rows;
}

function numericId(id: string): number {
  const n = Number(/^\d+/.exec(id)?.[0] ?? NaN);
  return Number.isFinite(n) ? n : Number.MAX_SAFE_INTEGER;
}

/**
 * Position among the pending jobs of the same cluster and partition, ordered by
 * priority (%Q, higher first) then submit time then job id. Held jobs (priority 0)
 * will not start on their own: they get no position and are not counted.
 */
export function assignPositions(rows: SqueueRow[]): void {
  const queues = new Map<string, SqueueRow[]>();
  for (const r of rows) {
    if (r.rawState.toUpperCase() !== 'PENDING' || r.priority <= 0) continue;
    const key = `${r.cluster ?? ''}\u0000${r.partition}`;
    const q = queues.get(key) ?? [];
    q.push(r);
    queues.set(key, q);
  }
  for (const q of queues.values()) {
    q.sort(
      (a, b) =>
        b.priority - a.priority ||
        (a.submitTime ?? '').localeCompare(b.submitTime ?? '') ||
        numericId(a.id) - numericId(b.id),
    );
    let ahead = 0;
    for (const r of q) {
      r.position = ahead + 1;
      ahead += r.weight;
    }
  }
}

const LIVENESS: JobState[] = ['running', 'completing', 'pending', 'failed', 'cancelled', 'done', 'unknown'];

function toStatus(r: SqueueRow): SchedulerJobStatus {
  return {
    state: r.state,
    node: r.state === 'pending' ? null : r.nodes,
    reason: r.reason,
    position: r.state === 'pending' ? r.position : null,
    estimatedStart: r.state === 'pending' ? slurmTimeToIso(r.startTime) : null,
    exitCode: null,
  };
}

function inArrayRange(rowId: string, task: number): boolean {
  const m = /_\[([^\]]+)\]/.exec(rowId);
  if (!m) return false;
  return (m[1] ?? '').split('%')[0]!.split(',').some((part) => {
    const r = /^(\d+)(?:-(\d+))?(?::(\d+))?$/.exec(part);
    if (!r) return false;
    const lo = Number(r[1]);
    const hi = r[2] === undefined ? lo : Number(r[2]);
    const step = r[3] === undefined ? 1 : Number(r[3]);
    return task >= lo && task <= hi && (task - lo) % Math.max(1, step) === 0;
  });
}

/** Rows indexed by their id and by their base id (so that many lookups stay cheap). */
export interface SqueueIndex {
  byId: Map<string, SqueueRow>;
  byBase: Map<string, SqueueRow[]>;
}

export function indexRows(rows: readonly SqueueRow[]): SqueueIndex {
  const byId = new Map<string, SqueueRow>();
  const byBase = new Map<string, SqueueRow[]>();
  for (const r of rows) {
    if (!byId.has(r.id)) byId.set(r.id, r);
    const list = byBase.get(r.baseId) ?? [];
    list.push(r);
    byBase.set(r.baseId, list);
  }
  return { byId, byBase };
}

/**
 * The status of a requested id: its own row, else (for a plain id) its array tasks or
 * het components folded together, else (for `N_k`) the pending array range holding k.
 */
export function statusFor(requested: string, rows: readonly SqueueRow[] | SqueueIndex): SchedulerJobStatus | null {
  const index = Array.isArray(rows) ? indexRows(rows) : (rows as SqueueIndex);
  const exact = index.byId.get(requested);
  if (exact) return toStatus(exact);
  const [idPart, clusterPart] = requested.split(';');
  const suffix = clusterPart ? `;${clusterPart}` : '';
  const task = /^(\d+)_(\d+)$/.exec(idPart ?? '');
  if (task) {
    const range = (index.byBase.get(`${task[1]}${suffix}`) ?? []).find((r) => inArrayRange(r.id, Number(task[2])));
    return range ? toStatus(range) : null;
  }
  const parts = index.byBase.get(requested) ?? [];
  if (parts.length === 0) return null;
  const statuses = parts.map(toStatus);
  statuses.sort((a, b) => LIVENESS.indexOf(a.state) - LIVENESS.indexOf(b.state));
  const first = statuses[0]!;
  const nodes = [...new Set(statuses.filter((s) => s.state === 'running' || s.state === 'completing').map((s) => s.node).filter(Boolean))];
  const positions = statuses.map((s) => s.position).filter((p): p is number => p !== null);
  return {
    ...first,
    node: nodes.length ? nodes.join(',') : first.node,
    position: first.state === 'pending' && positions.length ? Math.min(...positions) : first.position,
  };
}
