// `hpc-wrap jobstate` (docs/contracts.md §3): one scheduler call for all jobs, completed
// from each run dir (server phase, exit status, output tail). The bridge names each job's
// session and user on stdin, so the run dir follows from names alone; `jobstate ID...`
// (operators) finds run dirs by their jobid files.
import { validateJobId } from '../contract/names.js';
import { FINISHED_JOB_STATES, jobStateRequestSchema, type JobRef, type JobReport, type JobStateReport } from '../contract/jobstate.js';
import { describeIssues } from '../contract/startjob.js';
import type { CommandContext } from './command-context.js';
import { WrapError } from './errors.js';
import { readCancelledAt, readExitRecord, readServerStatus, tailLines, type ExitRecord } from './run-dir-files.js';
import { emptyStatus, type SchedulerJobStatus } from './schedulers/types.js';

export function validateJobIds(ids: readonly string[]): string[] {
  const out: string[] = [];
  for (const id of ids) {
    try {
      out.push(validateJobId(String(id)));
    } catch (err) {
      throw new WrapError('invalid', (err as Error).message);
    }
  }
  return [...new Set(out)];
}

export function parseJobStateRequest(text: string): JobRef[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new WrapError('invalid', 'stdin is not a JSON document: jobstate expects {"version":1,"jobs":[{"jobId","sessionId","user"}]} or job ids as arguments');
  }
  const r = jobStateRequestSchema.safeParse(raw);
  if (!r.success) throw new WrapError('invalid', `the jobstate request is not valid: ${describeIssues(r.error.issues)}`);
  return r.data.jobs;
}

/** killjob marked the run dir before the job ended (not after it had ended on its own). */
function cancelledByUs(exit: ExitRecord | null, cancelledAt: string | null): boolean {
  return Boolean(cancelledAt) && !(exit && Date.parse(exit.endedAt) < Date.parse(cancelledAt!));
}

/** A job the scheduler no longer lists: what its run dir says, else done with no exit code. */
export function stateFromRunDir(exit: ExitRecord | null, cancelledAt: string | null): SchedulerJobStatus {
  if (cancelledByUs(exit, cancelledAt)) return { ...emptyStatus('cancelled'), exitCode: exit?.exitCode ?? null };
  if (exit) {
    const ok = exit.exitCode === 0 && !exit.signal;
    return {
      ...emptyStatus(ok ? 'done' : 'failed'),
      exitCode: exit.exitCode,
      reason: ok ? null : (exit.error ?? (exit.signal ? `the server was killed by ${exit.signal}` : `the server exited with status ${exit.exitCode}`)),
    };
  }
  return emptyStatus('done');
}

/** Run dirs of jobs named by id only (operators): found by their jobid files. */
export function refsForIds(ctx: CommandContext, ids: readonly string[]): Array<{ jobId: string; runDir: string | null }> {
  const valid = validateJobIds(ids);
  const found = ctx.layout.findRunDirs(valid);
  return valid.map((jobId) => ({ jobId, runDir: found.get(jobId)?.runDir ?? null }));
}

export function refsForRequest(ctx: CommandContext, jobs: readonly JobRef[]): Array<{ jobId: string; runDir: string | null }> {
  return jobs.map((j) => ({ jobId: j.jobId, runDir: ctx.layout.session(j.user, j.sessionId).runDir }));
}

export async function jobState(ctx: CommandContext, refs: ReadonlyArray<{ jobId: string; runDir: string | null }>): Promise<JobStateReport> {
  const ids = [...new Set(refs.map((r) => r.jobId))];
  const scheduler = ctx.scheduler();
  const result = ids.length ? await scheduler.query(ids) : { reachable: true, error: null, jobs: new Map<string, SchedulerJobStatus>() };
  const jobs: Record<string, JobReport> = {};
  for (const { jobId: id, runDir } of refs) {
    const server = runDir ? readServerStatus(runDir) : null;
    const exit = runDir ? readExitRecord(runDir) : null;
    let status: SchedulerJobStatus;
    if (!result.reachable) status = emptyStatus('unknown');
    else {
      const listed = result.jobs.get(id);
      const cancelledAt = runDir ? readCancelledAt(runDir) : null;
      if (listed) {
        status = { ...listed, exitCode: listed.exitCode ?? (FINISHED_JOB_STATES.has(listed.state) ? (exit?.exitCode ?? null) : null) };
        // Schedulers without a "cancelled" state (Torque's C, PBS's F) end a killed job as
        // done or failed: the run dir's mark tells.
        if (FINISHED_JOB_STATES.has(status.state) && cancelledByUs(exit, cancelledAt)) status = { ...status, state: 'cancelled' };
      } else status = stateFromRunDir(exit, cancelledAt);
    }
    const showTail = runDir && (FINISHED_JOB_STATES.has(status.state) || server?.phase === 'exited');
    jobs[id] = { ...status, server, outputTail: showTail ? tailLines(`${runDir}/output.log`, ctx.config.job.outputTailLines) : null };
  }
  if (!result.reachable) ctx.log.warn('jobstate.unreachable', { scheduler: scheduler.name, error: result.error, jobs: ids });
  return { scheduler: { name: scheduler.name, reachable: result.reachable, error: result.error, batchSystem: scheduler.describe().batchSystem }, jobs };
}
