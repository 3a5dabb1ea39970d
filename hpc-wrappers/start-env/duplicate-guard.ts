// A session has at most one job. Should a second job of the same session run anyway (an
// interrupted submit whose sbatch went through after the retry had submitted again), it
// must not consume the spool or overwrite status.json of the job the session recorded: it
// checks the run dir's `jobid` against its own id and leaves at once if they differ. The
// orphan reaper cancels it soon after.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { runDirPaths } from '../layout.js';

/** Where batch systems put the running job's own id (fork: its supervisor sets HPC_WRAP_JOB_ID). */
const JOB_ID_VARIABLES = ['SLURM_JOB_ID', 'PBS_JOBID', 'JOB_ID', 'HPC_WRAP_JOB_ID'] as const;

const base = (id: string) => id.split(/[;.]/)[0]!.trim();

export function ownJobId(env: NodeJS.ProcessEnv = process.env): string | null {
  for (const k of JOB_ID_VARIABLES) if (env[k]) return env[k]!;
  return null;
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
export async function recordedOtherJob(runDir: string, waitMs = 15_000, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  const mine = ownJobId(env);
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
