// PBS-family job attributes (job-attributes.ts) as neutral listing rows: the state table
// of each flavour, exec_host / exec_vnode → node names, Exit_status, the scheduler's
// comment as the reason, array parents and subjobs (`123[].srv`, `123[4].srv`).
import type { ListedJob } from '../shared/listing.js';
import type { JobState } from '../types.js';
import type { PbsJob } from './job-attributes.js';

/**
 * job_state letters of PBS Pro/OpenPBS and Torque, in one table (they agree where both
 * have a letter). Q queued, H held, W waiting for its start time, T in transit, S/U
 * suspended, R running, B array begun, E exiting, X subjob done, F finished (PBS Pro,
 * with -x), C completed (Torque), M moved to another server.
 */
export const PBS_STATES: Readonly<Record<string, JobState>> = {
  Q: 'pending',
  H: 'pending',
  W: 'pending',
  T: 'pending',
  S: 'pending',
  U: 'pending',
  R: 'running',
  B: 'running',
  E: 'completing',
  X: 'done',
  F: 'done',
  C: 'done',
  M: 'unknown',
};

/** `n1/0*2+n2/0-3` (PBS Pro/Torque exec_host) or `(n1:ncpus=2)+(n2:ncpus=2)` (exec_vnode) → `n1,n2`. */
export function execHosts(execHost: string | undefined, execVnode?: string): string | null {
  const raw = execHost?.trim() || execVnode?.trim() || '';
  if (!raw || raw === '--') return null;
  const hosts = raw
    .split('+')
    .map((part) => part.replace(/^\(/, '').split(/[/:)]/)[0]!.trim())
    .filter(Boolean);
  return hosts.length ? [...new Set(hosts)].join(',') : null;
}

/**
 * A time as qstat prints it: epoch seconds (Torque XML, PBS JSON for some attributes) or
 * ctime text ("Sun Nov 29 11:01:45 2026", local time of the server = of this host).
 */
export function pbsTimeToIso(v: string | undefined): string | null {
  const t = v?.trim();
  if (!t) return null;
  const ms = /^\d{9,}$/.test(t) ? Number(t) * 1000 : Date.parse(t);
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : null;
}

const attr = (j: PbsJob, ...names: string[]) => names.map((n) => j.attrs[n]).find((v) => v !== undefined && v !== '');

/** `123[4].srv` → base `123[].srv`, task 4. */
export function pbsArrayTask(id: string): { baseId: string; task: number } | null {
  const m = /^(\d+)\[(\d+)\](.*)$/.exec(id);
  return m ? { baseId: `${m[1]}[]${m[3]}`, task: Number(m[2]) } : null;
}

function finishedState(code: number | null): JobState {
  return code === 0 ? 'done' : 'failed';
}

export function pbsListing(jobs: readonly PbsJob[]): ListedJob[] {
  return jobs.map((j) => {
    const letter = (attr(j, 'job_state') ?? '').trim().charAt(0).toUpperCase();
    const exitRaw = attr(j, 'Exit_status', 'exit_status');
    const exitCode = exitRaw !== undefined && /^-?\d+$/.test(exitRaw) ? Number(exitRaw) : null;
    let state = PBS_STATES[letter] ?? 'unknown';
    // Finished (F, C) or a finished subjob (X): its exit status tells done from failed.
    if ((letter === 'F' || letter === 'C' || letter === 'X') && exitCode !== null) state = finishedState(exitCode);
    const task = pbsArrayTask(j.id);
    const isParent = /^\d+\[\]/.test(j.id);
    const remaining = attr(j, 'array_indices_remaining', 'job_array_request');
    const priority = Number(attr(j, 'Priority') ?? '0');
    const comment = attr(j, 'comment') ?? null;
    let reason: string | null = null;
    if (letter === 'H') reason = `the job is held${attr(j, 'Hold_Types') ? ` (Hold_Types ${attr(j, 'Hold_Types')})` : ''}`;
    else if (letter === 'W') reason = `waiting for its start time${attr(j, 'Execution_Time') ? ` (${attr(j, 'Execution_Time')})` : ''}`;
    else if (state === 'pending' && comment) reason = comment;
    else if (state === 'failed' && exitCode !== null && exitCode >= 256) reason = `killed by signal ${exitCode - 256}`;
    return {
      id: j.id,
      baseId: task ? task.baseId : j.id,
      arrayTasks: isParent && state === 'pending' && remaining && remaining !== '-' ? remaining : null,
      rawState: letter,
      state,
      queueKey: attr(j, 'queue') ?? '',
      priority: Number.isFinite(priority) ? priority : 0,
      waiting: letter === 'Q',
      submitTime: pbsTimeToIso(attr(j, 'qtime', 'ctime')),
      estimatedStart: state === 'pending' ? pbsTimeToIso(attr(j, 'estimated.start_time')) : null,
      reason,
      nodes: execHosts(attr(j, 'exec_host'), attr(j, 'exec_vnode')),
      exitCode: state === 'done' || state === 'failed' ? exitCode : null,
      position: null,
    };
  });
}
