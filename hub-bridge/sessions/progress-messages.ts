// What a student reads about a session: progress lines and the final message. A final
// message is ONE plain first sentence (what happened, whose problem it is, what to do, a
// reference to quote to support), then, after a blank line, the details for support
// (the scheduler's words, exit code, the tail of the job log). The spawner, the hub
// service's pages and batchspawner's submit helper all split on that blank line
// (docs/contracts.md §6, "Messages").
import type { JobStatus } from '../cluster/hpc-wrap-client.js';
import { walltimeSeconds } from '../tunnel/tunnel-registry.js';

/** The sentence first, then the details (if any) after one blank line. */
export function studentMessage(sentence: string, details?: string | null): string {
  const d = details?.trim();
  return d ? `${sentence}\n\n${d}` : sentence;
}

/** The inverse of studentMessage. */
export function splitMessage(message: string): { sentence: string; details: string } {
  const i = message.indexOf('\n\n');
  return i < 0 ? { sentence: message.trim(), details: '' } : { sentence: message.slice(0, i).trim(), details: message.slice(i + 2).trim() };
}

/** What to quote to support: the job id once there is one, else the session number. */
export function reference(s: { jobId: string | null; number: number }): string {
  return s.jobId ? `job ${s.jobId}` : `session ${s.number}`;
}

/** Slurm's pending reasons, as a student would say them. */
const REASONS: Record<string, string> = {
  Priority: 'other jobs have priority',
  Resources: 'waiting for free resources',
  QOSMaxJobsPerUserLimit: 'you already run the most jobs your QOS allows',
  AssocGrpCpuLimit: "your group's CPU limit is reached",
  ReqNodeNotAvail: 'the requested nodes are not available',
  PartitionDown: 'the partition is down',
  BeginTime: 'the start time has not come yet',
  Dependency: 'waiting for another job',
  JobHeldUser: 'the job is held',
  JobHeldAdmin: 'an administrator holds the job',
};

/** "other jobs have priority (Priority)", or the scheduler's word alone. */
export function reasonText(reason: string | null | undefined): string | null {
  if (!reason || reason === 'None') return null;
  return REASONS[reason] ? `${REASONS[reason]} (${reason})` : reason;
}

function clock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().slice(11, 16) + ' UTC';
}

/** "45 s", "2 min 10 s", "30 min", "2 h", "1 h 30 min", "2 days". */
export function durationText(seconds: number): string {
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))} s`;
  if (seconds < 600 && Math.round(seconds % 60)) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  const days = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.round((seconds % 3600) / 60);
  const parts: string[] = [];
  if (days) parts.push(`${days} day${days === 1 ? '' : 's'}`);
  if (h) parts.push(`${h} h`);
  if (m || parts.length === 0) parts.push(`${m} min`);
  return parts.join(' ');
}

/** A profile's time limit in seconds (null when the profile names none usable). */
export function timeLimitSeconds(walltime: string | null | undefined): number | null {
  if (!walltime) return null;
  const s = walltimeSeconds(walltime);
  return Number.isFinite(s) && s > 0 ? s : null;
}

export function queuedMessage(st: JobStatus): string {
  let msg = 'Waiting in the queue';
  if (typeof st.position === 'number') {
    msg += st.position <= 1 ? ': next in line' : `: ${st.position - 1} job${st.position === 2 ? '' : 's'} ahead`;
  }
  const why = reasonText(st.reason);
  if (why) msg += ` (${why})`;
  if (st.estimatedStart) msg += `; the scheduler expects to start it at ${clock(st.estimatedStart)} at the latest`;
  return msg;
}

export function runningMessage(jobId: string | null, node: string | null): string {
  return `Job ${jobId ?? '?'} is running on node ${node ?? '(unknown)'}; starting your server`;
}

export function readyMessage(node: string | null, endsAt: string | null, limitSeconds: number | null): string {
  const where = `Your server is ready on ${node ?? 'the cluster'}`;
  if (!endsAt || !limitSeconds) return where;
  return `${where}; it runs until ${clock(endsAt)} (${durationText(limitSeconds)} limit)`;
}

/** Plain words for how a job ended, from the scheduler's report. */
function endedHow(st: JobStatus): { what: string; whose: string; todo: string } {
  const reason = st.reason ?? '';
  if (/TimeLimit/i.test(reason) || /time limit/i.test(reason)) {
    return { what: 'reached its time limit', whose: 'this is not an error', todo: 'start a new server to go on' };
  }
  if (/OUT_OF_MEMORY|OOM|memory/i.test(reason) || st.exitCode === 137) {
    return { what: 'ran out of memory', whose: 'your work needed more memory than the choice gives', todo: 'start again with a choice that has more memory' };
  }
  if (/NodeFail|NODE_FAIL|node fail/i.test(reason)) {
    return { what: 'lost its compute node', whose: 'a problem on the cluster, not with your work', todo: 'start again' };
  }
  if (st.state === 'cancelled') {
    return { what: 'was cancelled on the cluster', whose: 'not by this hub', todo: 'start again, and ask support if it happens again' };
  }
  return { what: 'stopped with an error', whose: 'most likely a problem of the software environment on the cluster, not of your files', todo: 'try again, and if it fails again send support the reference' };
}

/** The line of a failure's details after which the job's last output lines follow (`hpc-bridge try` looks for it). */
export const OUTPUT_TAIL_HEADING = 'Last lines of the job output:';

/** The details of a job that ended: state, exit code, the scheduler's reason, the log tail. */
function jobDetails(st: JobStatus, jobId: string | null, sessionNumber: number): string {
  const bits = [`state ${st.state}`];
  if (typeof st.exitCode === 'number') bits.push(`exit code ${st.exitCode}`);
  if (st.reason && st.reason !== 'None') bits.push(`scheduler reason: ${st.reason}`);
  let d = `Job ${jobId ?? '?'} (session ${sessionNumber}) ended: ${bits.join(', ')}.`;
  const tail = st.outputTail?.trim();
  d += tail ? `\n${OUTPUT_TAIL_HEADING}\n${tail}` : '\nThe job wrote no output.';
  return d;
}

/** A job that ended on its own (not stopped by the hub or the student). */
export function failureMessage(st: JobStatus, whileStarting: boolean, s: { jobId: string | null; number: number }): string {
  const how = endedHow(st);
  const ref = reference(s);
  const sentence = whileStarting
    ? `Your server stopped while it was starting: the job ${how.what} (${how.whose}); ${how.todo} (reference: ${ref}).`
    : `Your server has ended: the job ${how.what} (${how.whose}). Your files are kept; ${how.todo} (reference: ${ref}).`;
  return studentMessage(sentence, jobDetails(st, s.jobId, s.number));
}

/** Who stopped a session: JupyterHub (a stop, a cancel, a timeout), the student on the sessions page, or an admin on the admin page. */
export type StoppedBy = 'hub' | 'user' | 'admin';

/** `actor`: the admin's hub name (the event names who stopped it). */
export function stoppingMessage(by: StoppedBy, wasStarting: boolean, actor: string | null = null): string {
  if (by === 'user') return wasStarting ? 'Cancelling the start, as you asked' : 'Stopping your server, as you asked';
  if (by === 'admin') return `${wasStarting ? 'Cancelling the start' : 'Stopping the server'}: the administrator ${actor ?? '(unknown)'} stopped it on the admin page`;
  return wasStarting ? 'Cancelling the start' : 'Stopping the server';
}

/** The end of a stop: the job has ended and nothing keeps running; files are kept. */
export function stoppedMessage(s: { jobId: string | null; number: number }, by: StoppedBy, wasStarting: boolean): string {
  const job = s.jobId ? `job ${s.jobId}` : 'the request';
  if (wasStarting) {
    const left = s.jobId ? `${job} was withdrawn from the queue` : 'nothing was submitted';
    if (by === 'user') return `The start was cancelled by you: ${left} and nothing keeps running. Start again whenever you like (reference: ${reference(s)}).`;
    if (by === 'admin') return `The start was cancelled by an administrator: ${left} and nothing keeps running. Start again, or ask support why (reference: ${reference(s)}).`;
    return `The start was cancelled before your server was ready: ${left} and nothing keeps running (reference: ${reference(s)}).`;
  }
  const who = by === 'user' ? ' by you' : by === 'admin' ? ' by an administrator' : '';
  return `Your server was stopped${who}: ${job} has ended and your files are kept (reference: ${reference(s)}).`;
}
