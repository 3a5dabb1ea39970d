// What every dialect's status parser produces: the scheduler's listing as neutral rows.
// From them, one place computes queue positions and answers "what is the status of the
// id we submitted" (its own row, else its array tasks or components folded together,
// else the pending array range that holds it).
import { arrayTaskCount, inArrayRange } from './array-ranges.js';
import type { JobState, SchedulerJobStatus } from '../types.js';

export interface ListedJob {
  /** As the scheduler prints it (with `;cluster` appended for Slurm -M). */
  id: string;
  /** The id without array-task / component suffix; the same as id for a plain job. */
  baseId: string;
  /** For a row that stands for several pending array tasks: their range spec, else null. */
  arrayTasks: string | null;
  /** The scheduler's own state word (R, qw, RUNNING …), for the record. */
  rawState: string;
  state: JobState;
  /** Jobs queue against each other only within the same queue key (Slurm partition …). */
  queueKey: string;
  /** Higher starts first. */
  priority: number;
  /**
   * Waits in the queue for its turn: only these get a position and count for others. Not
   * a held job (it will not start on its own), nor one that is already being started.
   */
  waiting: boolean;
  /** Sortable (ISO 8601 or the scheduler's own fixed-width time); null = unknown. */
  submitTime: string | null;
  /** Estimated start of a pending job, ISO 8601 UTC, or null. */
  estimatedStart: string | null;
  reason: string | null;
  /** Node(s) of a started job, comma-separated, or null. */
  nodes: string | null;
  exitCode: number | null;
  /** Filled by assignPositions(). */
  position: number | null;
}

function numericId(id: string): number {
  const n = Number(/^\d+/.exec(id)?.[0] ?? NaN);
  return Number.isFinite(n) ? n : Number.MAX_SAFE_INTEGER;
}

/**
 * Position among the waiting jobs of the same queue key, ordered by priority
 * (higher first), then submit time, then job id. A row for a pending array range counts
 * once per task.
 */
export function assignPositions(rows: ListedJob[]): void {
  const queues = new Map<string, ListedJob[]>();
  for (const r of rows) {
    r.position = null;
    if (r.state !== 'pending' || !r.waiting) continue;
    const q = queues.get(r.queueKey) ?? [];
    q.push(r);
    queues.set(r.queueKey, q);
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
      ahead += r.arrayTasks ? arrayTaskCount(r.arrayTasks) : 1;
    }
  }
}

/** Rows indexed by id and by base id, so that many lookups stay cheap. */
export interface ListingIndex {
  byId: Map<string, ListedJob>;
  byBase: Map<string, ListedJob[]>;
}

export function indexListing(rows: readonly ListedJob[]): ListingIndex {
  const byId = new Map<string, ListedJob>();
  const byBase = new Map<string, ListedJob[]>();
  for (const r of rows) {
    if (!byId.has(r.id)) byId.set(r.id, r);
    const list = byBase.get(r.baseId) ?? [];
    list.push(r);
    byBase.set(r.baseId, list);
  }
  return { byId, byBase };
}

export function toStatus(r: ListedJob): SchedulerJobStatus {
  const pending = r.state === 'pending';
  return {
    state: r.state,
    node: pending ? null : r.nodes,
    reason: r.reason,
    position: pending ? r.position : null,
    estimatedStart: pending ? r.estimatedStart : null,
    exitCode: r.exitCode,
  };
}

const LIVENESS: JobState[] = ['running', 'completing', 'pending', 'failed', 'cancelled', 'done', 'unknown'];

/** One array task of a requested id, in the dialect's syntax (`123_4`, `123.4`), or null. */
export type ArrayTaskOf = (id: string) => { baseId: string; task: number } | null;

/**
 * The status of a requested id: its own row; else, for an array task, the pending range
 * that holds it; else the rows sharing it as base id (array tasks, het components)
 * folded together: the liveliest state, the nodes of the started ones, the best position.
 */
export function statusFor(requested: string, index: ListingIndex, taskOf: ArrayTaskOf): SchedulerJobStatus | null {
  const exact = index.byId.get(requested);
  if (exact) return toStatus(exact);
  const task = taskOf(requested);
  if (task) {
    const range = (index.byBase.get(task.baseId) ?? []).find((r) => r.arrayTasks !== null && inArrayRange(r.arrayTasks, task.task));
    return range ? toStatus(range) : null;
  }
  const parts = index.byBase.get(requested) ?? [];
  if (parts.length === 0) return null;
  const statuses = parts.map(toStatus);
  statuses.sort((a, b) => LIVENESS.indexOf(a.state) - LIVENESS.indexOf(b.state));
  const first = statuses[0]!;
  const nodes = [...new Set(statuses.filter((s) => s.state === 'running' || s.state === 'completing').flatMap((s) => (s.node ? s.node.split(',') : [])))];
  const positions = statuses.map((s) => s.position).filter((p): p is number => p !== null);
  return {
    ...first,
    node: nodes.length ? nodes.join(',') : first.node,
    position: first.state === 'pending' && positions.length ? Math.min(...positions) : first.position,
  };
}
