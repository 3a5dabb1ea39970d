// Parses `squeue --noheader --format=<SQUEUE_FORMAT>` output (recorded real output is in
// test/unit/hpc-wrappers/fixtures/squeue/) into the neutral listing rows.
import { assignPositions, statusFor as listingStatusFor, indexListing, type ListedJob } from '../shared/listing.js';
import type { SchedulerJobStatus } from '../types.js';
import { mapSlurmState } from './states.js';

/** id | state | partition | priority | submit time | (estimated) start | reason | nodes */
export const SQUEUE_FORMAT = '%i|%T|%P|%Q|%V|%S|%r|%N';

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

/** `123_4` or `123_4;cluster` → base `123` (`123;cluster`), task 4. */
export function slurmArrayTask(id: string): { baseId: string; task: number } | null {
  const [idPart, cluster] = id.split(';');
  const m = /^(\d+)_(\d+)$/.exec(idPart ?? '');
  return m ? { baseId: `${m[1]}${cluster ? `;${cluster}` : ''}`, task: Number(m[2]) } : null;
}

/** As squeue prints it: `123`, `123_4`, `123_[0-2%1]`, `123+0` → `123`. */
export function baseJobId(id: string): string {
  return id.split(/[_+]/)[0] ?? id;
}

/** Rows of one squeue listing, with queue positions (per cluster and partition). */
export function parseSqueue(stdout: string): ListedJob[] {
  const rows: ListedJob[] = [];
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
    const suffix = cluster ? `;${cluster}` : '';
    const priority = Number((f[3] ?? '').trim());
    const rawState = (f[1] ?? '').trim();
    const partition = (f[2] ?? '').trim();
    rows.push({
      id: `${id}${suffix}`,
      baseId: `${baseJobId(id)}${suffix}`,
      arrayTasks: /_\[([^\]]+)\]$/.exec(id)?.[1] ?? null,
      rawState,
      state: mapSlurmState(rawState),
      queueKey: `${cluster ?? ''}\u0000${partition}`,
      priority: Number.isFinite(priority) ? priority : 0,
      // Priority 0 = held: it will not start on its own.
      waiting: rawState.toUpperCase() === 'PENDING' && Number.isFinite(priority) && priority > 0,
      submitTime: orNull(f[4]),
      estimatedStart: slurmTimeToIso(orNull(f[5])),
      reason: orNull(f.slice(6, -1).join('|')),
      nodes: orNull(f[f.length - 1]),
      exitCode: null,
      position: null,
    });
  }
  assignPositions(rows);
  return rows;
}

/** The status of a requested id in a parsed listing (tests and the dialect). */
export function statusFor(requested: string, rows: readonly ListedJob[]): SchedulerJobStatus | null {
  return listingStatusFor(requested, indexListing(rows), slurmArrayTask);
}
