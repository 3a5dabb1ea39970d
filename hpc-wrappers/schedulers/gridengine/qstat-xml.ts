// Grid Engine's `qstat -xml -u '*'` (every job in ONE call) and `qstat -xml -j <ids>`
// (the scheduler's messages for pending jobs) as neutral rows. Recorded real output is in
// test/unit/hpc-wrappers/fixtures/gridengine/.
import type { ListedJob } from '../shared/listing.js';
import { MARKER_VARIABLE } from '../shared/marker.js';
import { childText, descendants, parseXml } from '../shared/xml.js';
import type { JobState, MarkedJob } from '../types.js';

/**
 * Grid Engine prints a job's state as letters (qw, hqw, r, t, dr, Eqw, Rr, s …). The first
 * letter of this table found in the code decides, in this order: being deleted, error,
 * finished, suspended, running/transferring, then held/queued/waiting.
 */
export const GE_STATE_LETTERS: Readonly<Record<string, JobState>> = {
  d: 'completing',
  E: 'failed',
  z: 'done',
  s: 'pending',
  S: 'pending',
  T: 'pending',
  r: 'running',
  t: 'running',
  h: 'pending',
  q: 'pending',
  w: 'pending',
};

export function mapGridEngineState(code: string): JobState {
  for (const [letter, state] of Object.entries(GE_STATE_LETTERS)) if (code.includes(letter)) return state;
  return 'unknown';
}

/** A reason the state code itself gives (the listing has no reason column). */
function reasonOf(code: string): string | null {
  if (code.includes('E')) return 'the job is in error state (see `qstat -j` for why; `qmod -cj` clears it)';
  if (code.includes('h')) return 'the job is held';
  if (/[sST]/.test(code)) return 'the job is suspended';
  return null;
}

/** `hb.q@node-3.cluster` → `node-3.cluster`. */
function hostOf(queueName: string | null): string | null {
  if (!queueName) return null;
  const at = queueName.indexOf('@');
  return at >= 0 ? queueName.slice(at + 1) || null : null;
}

export function parseQstatXml(stdout: string): ListedJob[] {
  const rows: ListedJob[] = [];
  for (const job of descendants(parseXml(stdout), 'job_list')) {
    const number = childText(job, 'JB_job_number');
    if (!number || !/^\d+$/.test(number)) continue;
    const code = childText(job, 'state') ?? '';
    const state = mapGridEngineState(code);
    const tasks = childText(job, 'tasks');
    // A running task is listed alone (`<tasks>1</tasks>`); a pending range as `2,3` or `1-4:1`.
    const singleTask = tasks && /^\d+$/.test(tasks) && state !== 'pending';
    const prio = Number(childText(job, 'JAT_prio') ?? '');
    rows.push({
      id: tasks ? `${number}.${tasks}` : number,
      baseId: number,
      arrayTasks: tasks && !singleTask ? tasks : null,
      rawState: code,
      state,
      // Pending jobs are in no queue yet: the scheduler dispatches them all in one order.
      queueKey: '',
      priority: Number.isFinite(prio) ? prio : 0,
      waiting: state === 'pending' && !/[hEsST]/.test(code),
      submitTime: childText(job, 'JB_submission_time') ?? childText(job, 'JAT_start_time'),
      estimatedStart: null,
      reason: reasonOf(code),
      nodes: state === 'pending' ? null : hostOf(childText(job, 'queue_name')),
      exitCode: null,
      position: null,
    });
  }
  return rows;
}

const MAX_REASON = 400;

/**
 * `qstat -xml -j 12,13`: the scheduler's messages (needs `schedd_job_info true`). A job's
 * own messages ("Job is in hold state"), else the global ones ("queue instance … dropped
 * because it is full"), joined.
 */
export function parseQstatJobMessages(stdout: string): Map<string, string> {
  const doc = parseXml(stdout);
  const ids = descendants(doc, 'djob_info').flatMap((d) => d.children.map((e) => childText(e, 'JB_job_number')).filter((x): x is string => Boolean(x)));
  const own = new Map<string, string[]>();
  const global: string[] = [];
  for (const list of descendants(doc, 'SME_message_list')) {
    for (const m of list.children) {
      const text = childText(m, 'MES_message');
      if (!text) continue;
      for (const n of descendants(m, 'ULNG_value')) own.set(n.text.trim(), [...(own.get(n.text.trim()) ?? []), text]);
    }
  }
  for (const list of descendants(doc, 'SME_global_message_list')) {
    for (const m of list.children) {
      const text = childText(m, 'MES_message');
      if (text) global.push(text);
    }
  }
  const out = new Map<string, string>();
  for (const id of ids) {
    const words = own.get(id) ?? global;
    if (words.length) out.set(id, [...new Set(words)].join('; ').slice(0, MAX_REASON));
  }
  return out;
}

/** JAT_status bits (sge_jobL.h): running 0x80; a job without array tasks has not started. */
const JAT_RUNNING = 0x80;

/**
 * `qstat -xml -j '*'`: every live job in detail, ONE call; the jobs whose context
 * (`qsub -ac HPC_BRIDGE_MARKER=…`) holds a marker with the prefix.
 */
export function parseMarkedJobs(stdout: string, prefix: string): MarkedJob[] {
  const jobs: MarkedJob[] = [];
  for (const info of descendants(parseXml(stdout), 'djob_info')) {
    for (const job of info.children) {
      const id = childText(job, 'JB_job_number');
      const marker = descendants(job, 'context_list').find((c) => childText(c, 'VA_variable') === MARKER_VARIABLE);
      const value = marker ? childText(marker, 'VA_value') : null;
      if (!id || !value?.startsWith(prefix)) continue;
      const tasks = descendants(job, 'JAT_status').map((t) => Number(t.text));
      const state: JobState = tasks.some((st) => (st & JAT_RUNNING) !== 0) ? 'running' : 'pending';
      jobs.push({ jobId: id, marker: value, state, user: childText(job, 'JB_owner') });
    }
  }
  return jobs;
}
