// `hpc-wrap killjob ID` (docs/contracts.md §4). Cancelling a finished job is not an
// error. The run dir is marked first so that jobstate can later tell "cancelled" from
// "ended" once the scheduler has forgotten the job.
import type { KillJobResult } from '../contract/killjob.js';
import type { CommandContext } from './command-context.js';
import { runDirOf, validateJobIds } from './jobstate.js';
import { markCancelled, readCancelledAt } from './run-dir-files.js';

export async function killJob(ctx: CommandContext, rawId: string): Promise<KillJobResult> {
  const [jobId] = validateJobIds([rawId]);
  const runDir = runDirOf(ctx.layout, jobId!);
  if (runDir && !readCancelledAt(runDir)) markCancelled(runDir);
  const scheduler = ctx.scheduler();
  await scheduler.cancel(jobId!);
  ctx.log.info('killjob.cancelled', { jobId: jobId!, scheduler: scheduler.name, runDir });
  return { jobId: jobId!, cancelled: true };
}
