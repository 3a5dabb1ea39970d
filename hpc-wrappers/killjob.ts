// `hpc-wrap killjob` (docs/contracts.md §4). Cancelling a finished job is not an error.
// The run dir is marked first so that jobstate can later tell "cancelled" from "ended"
// once the scheduler has forgotten the job, and the spool (the job's secrets, if start-env
// has not consumed them) is removed: a session that ends in any state leaves no secret.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { killJobRequestSchema, type KillJobRequest, type KillJobResult } from '../contract/killjob.js';
import { describeIssues } from '../contract/startjob.js';
import type { CommandContext } from './command-context.js';
import { WrapError } from './errors.js';
import { refsForIds } from './jobstate.js';
import { runDirPaths, SHARED_FILE_MODE } from './layout.js';
import { markCancelled, readCancelledAt } from './run-dir-files.js';

export function parseKillJobRequest(text: string): KillJobRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new WrapError('invalid', 'stdin is not a JSON document: killjob expects {"version":1,"jobId","sessionId","user"} or a job id as argument');
  }
  const r = killJobRequestSchema.safeParse(raw);
  if (!r.success) throw new WrapError('invalid', `the killjob request is not valid: ${describeIssues(r.error.issues)}`);
  return r.data;
}

async function cancelAndClean(ctx: CommandContext, jobId: string | null, runDir: string | null, keepSpool = false): Promise<KillJobResult> {
  if (runDir && jobId && !keepSpool && !readCancelledAt(runDir)) {
    try {
      markCancelled(runDir);
    } catch {
      /* the run dir is gone or not ours: the cancel still goes to the scheduler */
    }
  }
  const scheduler = ctx.scheduler();
  if (jobId) await scheduler.cancel(jobId);
  if (runDir && !keepSpool) rmSync(runDirPaths(runDir).spoolDir, { recursive: true, force: true });
  ctx.log.info('killjob.cancelled', { jobId, scheduler: scheduler.name, runDir });
  return { jobId, cancelled: jobId !== null };
}

/** The bridge's form: the run dir follows from user and session. */
export async function killJob(ctx: CommandContext, req: KillJobRequest): Promise<KillJobResult> {
  const paths = ctx.layout.session(req.user, req.sessionId);
  if (ctx.layout.perUser) ctx.log.retarget(join(paths.userDir, 'hpc-wrap.log'), SHARED_FILE_MODE);
  return cancelAndClean(ctx, req.jobId, paths.runDir, req.keepSpool);
}

/** The operator's form: `hpc-wrap killjob ID`. */
export async function killJobById(ctx: CommandContext, rawId: string): Promise<KillJobResult> {
  const [ref] = refsForIds(ctx, [rawId]);
  return cancelAndClean(ctx, ref!.jobId, ref!.runDir);
}
