// `hpc-wrap jobstate ID...` (docs/contracts.md §3): one scheduler call for all ids,
// completed from each run dir (server phase, exit status, output tail).
import { validateJobId } from '../contract/names.js';
import type { CommandContext } from './command-context.js';
import { WrapError } from './errors.js';
import { isRecord, readJsonOrNull } from './json-files.js';
import type { Layout } from './layout.js';
import { readCancelledAt, readExitRecord, readServerStatus, tailLines, type ExitRecord } from './run-dir-files.js';
import { emptyStatus, type SchedulerJobStatus } from './schedulers/types.js';
import { FINISHED_JOB_STATES, type JobReport, type JobStateReport } from '../contract/jobstate.js';

const FINISHED = FINISHED_JOB_STATES;

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

/** The run dir of a job, from jobs/<id>.json (only if it lies inside workDir). */
export function runDirOf(layout: Layout, jobId: string): string | null {
  const v = readJsonOrNull(layout.jobIndexFile(jobId));
  if (!isRecord(v) || typeof v.runDir !== 'string' || !layout.contains(v.runDir)) return null;
  return v.runDir;
}

/** A job the scheduler no longer lists: what its run dir says, else done with no exit code. */
export function stateFromRunDir(exit: ExitRecord | null, cancelledAt: string | null): SchedulerJobStatus {
  const endedBeforeCancel = exit && cancelledAt && Date.parse(exit.endedAt) < Date.parse(cancelledAt);
  if (cancelledAt && !endedBeforeCancel) return { ...emptyStatus('cancelled'), exitCode: exit?.exitCode ?? null };
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

export async function jobState(ctx: CommandContext, rawIds: readonly string[]): Promise<JobStateReport> {
  const ids = validateJobIds(rawIds);
  const scheduler = ctx.scheduler();
  const result = ids.length ? await scheduler.query(ids) : { reachable: true, error: null, jobs: new Map() };
  const jobs: Record<string, JobReport> = {};
  for (const id of ids) {
    const runDir = runDirOf(ctx.layout, id);
    const server = runDir ? readServerStatus(runDir) : null;
    const exit = runDir ? readExitRecord(runDir) : null;
    let status: SchedulerJobStatus;
    if (!result.reachable) status = emptyStatus('unknown');
    else {
      const listed = result.jobs.get(id);
      if (listed) status = { ...listed, exitCode: listed.exitCode ?? (FINISHED.has(listed.state) ? (exit?.exitCode ?? null) : null) };
      else status = stateFromRunDir(exit, runDir ? readCancelledAt(runDir) : null);
    }
    const showTail = runDir && (FINISHED.has(status.state) || server?.phase === 'exited');
    jobs[id] = { ...status, server, outputTail: showTail ? tailLines(`${runDir}/output.log`, ctx.config.job.outputTailLines) : null };
  }
  if (!result.reachable) ctx.log.warn('jobstate.unreachable', { scheduler: scheduler.name, error: result.error, jobs: ids });
  return { scheduler: { name: scheduler.name, reachable: result.reachable, error: result.error }, jobs };
}
