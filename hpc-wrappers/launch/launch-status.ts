// The state of a user's launches for list / status / url / stop / clean: ONE scheduler
// query for the jobs of all launches asked about, completed from each run dir's
// status.json (the server's phase and port) and the launch's own files.
import { WrapError } from '../errors.js';
import { readExitRecord, readServerStatus, type ServerStatus } from '../run-dir-files.js';
import type { JobState, SchedulerAdapter, SchedulerJobStatus } from '../schedulers/types.js';
import type { LaunchPaths } from './launch-paths.js';
import { readLaunchRecord, stoppedAt, submissions, type LaunchRecord, type Submission } from './launch-record.js';

export type LaunchState = 'queued' | 'starting' | 'running' | 'ended' | 'failed' | 'stopped' | 'unknown';

export interface JobView {
  n: number;
  jobId: string | null;
  state: JobState;
  node: string | null;
  position: number | null;
  estimatedStart: string | null;
  reason: string | null;
  server: ServerStatus | null;
  exitCode: number | null;
  runDir: string;
}

export interface LaunchView {
  id: string;
  createdAt: string;
  state: LaunchState;
  /** One line for people. */
  summary: string;
  jobs: JobView[];
  current: JobView | null;
  keepAlive: { max: number; used: number };
  url: string | null;
  stoppedAt: string | null;
  schedulerReachable: boolean;
  record: LaunchRecord;
  launchDir: string;
}

const FINISHED: ReadonlySet<JobState> = new Set(['done', 'failed', 'cancelled']);

function jobView(s: Submission, listed: SchedulerJobStatus | undefined, reachable: boolean): JobView {
  const server = readServerStatus(s.runDir);
  const exit = readExitRecord(s.runDir);
  let state: JobState;
  if (s.jobId === null) state = 'unknown';
  else if (!reachable) state = 'unknown';
  else if (listed) state = listed.state;
  else state = exit ? (exit.exitCode === 0 && !exit.signal ? 'done' : 'failed') : 'done';
  return {
    n: s.n,
    jobId: s.jobId,
    state,
    node: listed?.node ?? null,
    position: listed?.position ?? null,
    estimatedStart: listed?.estimatedStart ?? null,
    reason: listed?.reason ?? null,
    server,
    exitCode: exit?.exitCode ?? null,
    runDir: s.runDir,
  };
}

function describe(v: Omit<LaunchView, 'summary'>): string {
  const j = v.current;
  if (!j) return 'not submitted';
  switch (v.state) {
    case 'queued':
      return `queued${j.position ? `, position ${j.position}` : ''}${j.estimatedStart ? `, estimated start ${j.estimatedStart}` : ''}${j.reason ? ` (${j.reason})` : ''}`;
    case 'starting':
      return `running on ${j.node ?? '?'}, starting ${v.record.interface === 'lab' ? 'JupyterLab' : 'Jupyter'}${j.server?.phase === 'environment' ? ' (preparing the environment)' : ''}`;
    case 'running':
      return `ready on ${j.node ?? '?'} port ${j.server?.port ?? '?'}`;
    case 'stopped':
      return 'stopped';
    case 'failed':
      return `failed${j.server?.message ? `: ${j.server.message}` : j.reason ? ` (${j.reason})` : ''}`;
    case 'unknown':
      return v.schedulerReachable ? 'unknown' : 'unknown (the scheduler did not answer)';
    default:
      return `ended (job ${j.jobId} ${j.state})`;
  }
}

export function launchState(current: JobView | null, stopped: string | null, reachable: boolean): LaunchState {
  if (!current) return 'unknown';
  if (!reachable) return 'unknown';
  if (FINISHED.has(current.state)) {
    if (stopped) return 'stopped';
    return current.state === 'failed' ? 'failed' : 'ended';
  }
  if (current.state === 'pending') return 'queued';
  // `stop` cancelled it and the scheduler is still cleaning up after it (Slurm's CG): nothing runs for the user any more
  if (current.state === 'completing' && stopped) return 'stopped';
  if (current.state === 'running' || current.state === 'completing') return current.server?.phase === 'listening' ? 'running' : 'starting';
  return 'unknown';
}

/** Views of the given launches (ONE scheduler query for all their jobs). Broken launch dirs are skipped. */
export async function viewLaunches(paths: LaunchPaths, ids: string[], scheduler: SchedulerAdapter): Promise<LaunchView[]> {
  const items: { rec: LaunchRecord; subs: Submission[] }[] = [];
  for (const id of ids) {
    try {
      items.push({ rec: readLaunchRecord(paths, id), subs: submissions(paths, id) });
    } catch {
      /* damaged: `clean` removes it */
    }
  }
  const jobIds = items.flatMap((i) => i.subs.map((s) => s.jobId)).filter((j): j is string => j !== null);
  const q = jobIds.length ? await scheduler.query(jobIds) : { reachable: true, error: null, jobs: new Map() };
  const views = items.map(({ rec, subs }) => {
    const jobs = subs.map((s) => jobView(s, s.jobId ? q.jobs.get(s.jobId) : undefined, q.reachable));
    const current = [...jobs].reverse().find((j) => !FINISHED.has(j.state)) ?? jobs[jobs.length - 1] ?? null;
    const stopped = stoppedAt(paths, rec.id);
    const partial = {
      id: rec.id,
      createdAt: rec.createdAt,
      state: launchState(current, stopped, q.reachable),
      jobs,
      current,
      keepAlive: { max: rec.keepAlive, used: Math.max(0, subs.length - 1) },
      url: rec.gateway?.url ?? null,
      stoppedAt: stopped,
      schedulerReachable: q.reachable,
      record: rec,
      launchDir: paths.launchDir(rec.id),
    };
    return { ...partial, summary: describe(partial) };
  });
  return views.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** Finds a launch by id, unique id prefix or job id; none given = the newest. */
export function pickLaunch(paths: LaunchPaths, ref: string | undefined): string {
  const ids = paths.ids();
  if (!ids.length) throw new WrapError('invalid', 'you have no launches (`hpc-wrap launch ...` starts one)');
  if (ref === undefined) {
    let newest: { id: string; at: string } | null = null;
    for (const id of ids) {
      try {
        const at = readLaunchRecord(paths, id).createdAt;
        if (!newest || at > newest.at) newest = { id, at };
      } catch {
        /* skip */
      }
    }
    if (!newest) throw new WrapError('invalid', 'none of your launches can be read');
    return newest.id;
  }
  if (ids.includes(ref)) return ref;
  const byPrefix = ids.filter((id) => id.startsWith(ref));
  if (byPrefix.length === 1) return byPrefix[0]!;
  const byJob = ids.filter((id) => submissions(paths, id).some((s) => s.jobId === ref));
  if (byJob.length === 1) return byJob[0]!;
  if (byPrefix.length > 1) throw new WrapError('invalid', `"${ref}" matches several launches: ${byPrefix.join(', ')}`);
  throw new WrapError('invalid', `no launch "${ref}" (see \`hpc-wrap list\`)`);
}

export const isLive = (v: LaunchView): boolean => v.state === 'queued' || v.state === 'starting' || v.state === 'running' || (v.state === 'unknown' && !v.stoppedAt);
