// A session has at most one job. Should a second job of the same session run anyway (an
// interrupted submit whose sbatch went through after the retry had submitted again), it
// must not consume the spool or overwrite status.json of the job the session recorded: it
// checks the run dir's `jobid` against its own id and leaves at once if they differ. The
// orphan reaper cancels it soon after.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { runDirPaths } from '../layout.js';

const base = (id: string) => id.split(/[;.]/)[0]!.trim();

/** This job's own id, from the variable its scheduler sets (SchedulerAdapter.jobIdVariable). */
export function ownJobId(jobIdVariable: string, env: NodeJS.ProcessEnv = process.env): string | null {
  return env[jobIdVariable] || null;
}

function recorded(runDir: string): string | null {
  try {
    return readFileSync(runDirPaths(runDir).jobIdFile, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/**
 * The id of the session's recorded job when it is not this job, else null. A job may start
 * before startjob wrote `jobid` (a fast scheduler): it waits up to `waitMs` for the file.
 */
export async function recordedOtherJob(runDir: string, jobIdVariable: string, waitMs = 15_000, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  const mine = ownJobId(jobIdVariable, env);
  if (!mine) return null; // a ready script run outside a batch system: nothing to compare
  const until = Date.now() + waitMs;
  let id = recorded(runDir);
  while (id === null && Date.now() < until) {
    await sleep(200);
    id = recorded(runDir);
  }
  if (id === null) return null;
  return base(id) === base(mine) ? null : id;
}
