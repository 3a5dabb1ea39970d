// Progress messages a student reads on the hub's spawn page. Plain words, the scheduler's
// own reason, and numbers when we have them.
import type { JobStatus } from '../cluster/hpc-wrap-client.js';

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

function clock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().slice(11, 16) + ' UTC';
}

export function queuedMessage(st: JobStatus): string {
  const parts = ['Queued'];
  if (typeof st.position === 'number') {
    parts[0] += st.position <= 1 ? ': next in line' : `: ${st.position - 1} job${st.position === 2 ? '' : 's'} ahead`;
  }
  if (st.estimatedStart) parts.push(`estimated start ${clock(st.estimatedStart)}`);
  if (st.reason && st.reason !== 'None') parts.push(`reason: ${st.reason}${REASONS[st.reason] ? ` (${REASONS[st.reason]})` : ''}`);
  return parts.join(', ');
}

export function failureMessage(st: JobStatus, whileStarting: boolean): string {
  const what = whileStarting ? 'The job ended before the notebook server was ready' : 'The job ended';
  const bits = [`state ${st.state}`];
  if (typeof st.exitCode === 'number') bits.push(`exit code ${st.exitCode}`);
  if (st.reason && st.reason !== 'None') bits.push(`scheduler reason: ${st.reason}`);
  let msg = `${what} (${bits.join(', ')}).`;
  const tail = st.outputTail?.trim();
  if (tail) msg += `\nLast lines of the job output:\n${tail}`;
  else msg += ' The job wrote no output.';
  return msg;
}
