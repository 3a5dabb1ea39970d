// What the admin page shows, as plain data (no HTML): every live session with what an
// operator asks first (whose, which choice, where in the queue or on which node, how old,
// how much wall time is left, whether its tunnel is up), the recent failures with their
// reason and the details for support, and the usage summary of a period. Kept apart from
// admin-html.ts so that it can be tested without rendering.
import type { Profile } from '../../../config/schema.js';
import { usageQuery, type UsageGroup, type UsageQuery, type UsageReport } from '../../accounting/usage.js';
import { durationText, reasonText, splitMessage } from '../../sessions/progress-messages.js';
import { endsAt, isTerminal, type Session, type SessionState } from '../../sessions/types.js';
import { choiceName } from './session-view.js';

export interface LiveRow {
  id: string;
  number: number;
  user: string;
  /** The profile's display name (its name when the profile is gone from the config). */
  profile: string;
  state: SessionState;
  /** The state with what qualifies it: the scheduler's reason, "scheduler not answering". */
  stateText: string;
  jobId: string | null;
  node: string | null;
  /** 1 = next in line; null when not queued or not known. */
  queuePosition: number | null;
  createdAt: string;
  age: string;
  /** When the job reaches its time limit (ISO), once it runs. */
  endsAt: string | null;
  /** "25 min", "over", or what is known before the start ("30 min limit, not started"). */
  wallLeft: string;
  tunnel: { text: string; tone: 'ok' | 'bad' | 'neutral' };
  /** A stop is still possible (not already stopping). */
  stoppable: boolean;
}

export interface FailureRow {
  id: string;
  number: number;
  user: string;
  profile: string;
  jobId: string | null;
  /** When it failed (the session's last update). */
  at: string;
  reason: string;
  sentence: string;
  /** The details for support (scheduler's words, exit code, output tail); '' when none. */
  details: string;
}

export const USAGE_GROUPS_SHOWN: readonly UsageGroup[] = ['user', 'profile', 'account', 'day'];

export interface UsageSection {
  /** The form's values as given (or the defaults). */
  form: { from: string; to: string; by: UsageGroup };
  /** The same report on the command line. */
  command: string;
  report: UsageReport | null;
  /** What is wrong with the form's values; null when they are valid. */
  error: string | null;
  /** Where the figures come from, in one sentence. */
  source: string;
}

export interface AdminView {
  now: string;
  live: LiveRow[];
  /** Live sessions per state, for the summary line. */
  counts: Partial<Record<SessionState, number>>;
  failures: FailureRow[];
  usage: UsageSection;
}

/** The session state an admin reads, with what qualifies it. */
export function adminStateText(s: Session): string {
  let t: string = s.state;
  if (s.state === 'queued') {
    const why = reasonText(s.reason);
    if (why) t += ` (${why})`;
  }
  if (!s.schedulerReachable) t += '; scheduler not answering';
  return t;
}

export function wallLeft(s: Session, now: number): string {
  const end = endsAt(s);
  if (end) {
    const left = Math.round((Date.parse(end) - now) / 1000);
    return left > 0 ? durationText(left) : 'over (ending)';
  }
  if (s.timeLimitSeconds && !s.startedAt) return `${durationText(s.timeLimitSeconds)} limit, not started`;
  return 'unknown';
}

/** The tunnel as the bridge's endpoint sees it (from the session), and how often it came back. */
export function tunnelText(s: Session, reconnects: number, now: number): LiveRow['tunnel'] {
  if (s.tunnelPort === null) return { text: 'none (direct connection)', tone: 'neutral' };
  const since = s.tunnelSince ? ` for ${durationText(Math.max(0, Math.round((now - Date.parse(s.tunnelSince)) / 1000)))}` : '';
  const again = reconnects ? `, ${reconnects} reconnect${reconnects === 1 ? '' : 's'}` : '';
  switch (s.tunnelState) {
    case 'up':
      return { text: `up${since}${again}`, tone: 'ok' };
    case 'down':
      return { text: `down${since} (the job's agent is reconnecting)${again}`, tone: 'bad' };
    case 'waiting':
      // before the job runs that is normal; once it runs, the agent should connect soon
      return s.startedAt ? { text: `not up yet: waiting${since} for the job's agent`, tone: 'neutral' } : { text: 'waiting for the job to start', tone: 'neutral' };
    case 'closed':
      return { text: 'closed', tone: 'neutral' };
    default:
      return { text: s.startedAt ? 'not reported yet' : 'not started', tone: 'neutral' };
  }
}

/** Slurm's reasons for a job that ended, as an admin reads them. */
const SCHEDULER_END_REASONS: Readonly<Record<string, string>> = {
  NonZeroExitCode: 'the job ended with an error before the server was ready',
  RaisedSignal: 'the job was killed by a signal before the server was ready',
  TimeLimit: 'the job reached its time limit before the server was ready',
  NodeFail: 'the job\'s node failed before the server was ready',
  OutOfMemory: 'the job ran out of memory before the server was ready',
};

/** Why a session failed, from the code the session service recorded (refusal code, or the job's reason/state). */
export function failureReason(reason: string | null): string {
  switch (reason) {
    case null:
    case '':
      return 'not recorded';
    case 'scheduler':
      return 'the scheduler refused the job';
    case 'maintenance':
      return 'the cluster side is in maintenance';
    case 'invalid':
      return 'hpc-wrap refused the request';
    case 'unreachable':
      return 'the cluster or scheduler could not be reached to submit';
    case 'transport':
      return 'hpc-wrap could not be run';
    case 'restart':
      return 'the request was lost in a bridge restart';
    case 'failed':
      return 'the job ended with an error before the server was ready';
    case 'done':
      return 'the job ended before the server was ready';
    case 'cancelled':
      return 'the job was cancelled on the cluster';
    default: {
      // the scheduler's own reason for a job that ended (Slurm's words), in plain words first
      const plain = Object.hasOwn(SCHEDULER_END_REASONS, reason) ? SCHEDULER_END_REASONS[reason] : undefined;
      return `${plain ?? 'the job ended before the server was ready'} (scheduler: ${reason})`;
    }
  }
}

export function liveRow(s: Session, profiles: readonly Profile[], reconnects: number, now: number): LiveRow {
  return {
    id: s.id,
    number: s.number,
    user: s.user,
    profile: choiceName(s, profiles),
    state: s.state,
    stateText: adminStateText(s),
    jobId: s.jobId,
    node: s.node,
    queuePosition: s.state === 'queued' ? s.queuePosition : null,
    createdAt: s.createdAt,
    age: durationText(Math.max(0, Math.round((now - Date.parse(s.createdAt)) / 1000))),
    endsAt: endsAt(s),
    wallLeft: wallLeft(s, now),
    tunnel: tunnelText(s, reconnects, now),
    stoppable: !isTerminal(s.state) && s.state !== 'stopping',
  };
}

export function failureRow(s: Session, profiles: readonly Profile[]): FailureRow {
  const { sentence, details } = splitMessage(s.message ?? 'The start failed.');
  return { id: s.id, number: s.number, user: s.user, profile: choiceName(s, profiles), jobId: s.jobId, at: s.updatedAt, reason: failureReason(s.reason), sentence, details };
}

/** The first day of `now`'s month, UTC, as YYYY-MM-DD (the usage summary's default start). */
export function monthStart(now: Date): string {
  return `${now.toISOString().slice(0, 7)}-01`;
}

/**
 * The usage form: from (default the 1st of this month), to (empty = now), by (default
 * user), checked by the same function as `hpc-bridge usage` and GET /v1/usage.
 */
export function usageForm(raw: { from?: unknown; to?: unknown; by?: unknown }, now: Date): { form: UsageSection['form']; query: UsageQuery | null; error: string | null } {
  const text = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
  const by = text(raw.by) || 'user';
  const form = { from: text(raw.from) || monthStart(now), to: text(raw.to), by: (USAGE_GROUPS_SHOWN as readonly string[]).includes(by) ? (by as UsageGroup) : 'user' };
  // a field given twice reaches usageQuery as it is, which says so
  const given = (v: unknown, value: string) => (v === undefined || typeof v === 'string' ? value : v);
  try {
    return { form, query: usageQuery({ from: given(raw.from, form.from), to: given(raw.to, form.to), by: given(raw.by, by) }, now), error: null };
  } catch (err) {
    return { form, query: null, error: `${(err as Error).message}. Change the field and press "Show".` };
  }
}

export function usageSource(r: UsageReport): string {
  switch (r.source.kind) {
    case 'scheduler':
      return "Every figure comes from the scheduler's accounting (sacct).";
    case 'none':
      return r.total.jobs ? 'No job of this period has ended yet: CPU- and GPU-hours count once jobs end.' : 'No jobs were submitted in this period.';
    default:
      return `${r.source.note}.`;
  }
}

export interface AdminInput {
  live: Session[];
  failed: Session[];
  profiles: readonly Profile[];
  /** How often the session's tunnel came back after being down. */
  reconnects(sessionId: string): number;
  usage: { form: UsageSection['form']; query: UsageQuery | null; error: string | null };
  /** The report for usage.query; null when there is no query or no accounting. */
  report: UsageReport | null;
  /** Why there is no report although the query is valid (accounting not set up). */
  reportMissing?: string;
  now: Date;
}

export function adminView(i: AdminInput): AdminView {
  const now = i.now.getTime();
  const live = i.live.map((s) => liveRow(s, i.profiles, i.reconnects(s.id), now));
  const counts: AdminView['counts'] = {};
  for (const r of live) counts[r.state] = (counts[r.state] ?? 0) + 1;
  const q = i.usage.query;
  const to = q ? (i.usage.form.to || q.to.toISOString()) : i.usage.form.to;
  return {
    now: i.now.toISOString(),
    live,
    counts,
    failures: i.failed.map((s) => failureRow(s, i.profiles)),
    usage: {
      form: i.usage.form,
      command: `hpc-bridge usage --from ${i.usage.form.from} --to ${to || '(now)'} --by ${i.usage.form.by}`,
      report: i.report,
      error: i.usage.error ?? (q && !i.report ? (i.reportMissing ?? 'Usage accounting is not available in this bridge.') : null),
      source: i.report ? usageSource(i.report) : '',
    },
  };
}
