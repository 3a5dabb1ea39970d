// Tests that use the `fork` scheduler start real detached processes (the job supervisor and
// everything under it). A fixture that removes its dir stops them first, whatever the test
// did: a failed assertion must not leave a notebook running for an hour (issue 13).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isRecord, readJsonOrNull } from '../../hpc-wrappers/json-files.js';
import { ForkAdapter, forkJobFiles } from '../../hpc-wrappers/schedulers/fork/fork.js';
import { isSameProcess } from '../../hpc-wrappers/schedulers/process-identity.js';

/** Cancels every fork job under `<workDir>/fork` (SIGTERM to its process group, SIGKILL after the grace). */
export async function stopForkJobs(workDir: string): Promise<void> {
  const forkDir = join(workDir, 'fork');
  if (!existsSync(forkDir)) return;
  const adapter = new ForkAdapter(forkDir, ['true']);
  const ids = readdirSync(forkDir).filter((n) => /^fork-\d+$/.test(n));
  await Promise.all(ids.map((id) => adapter.cancel(id).catch(() => {})));
}

/** The same at once, for a synchronous cleanup: SIGKILL to every fork job's process group. */
export function killForkJobsSync(workDir: string): void {
  const forkDir = join(workDir, 'fork');
  if (!existsSync(forkDir)) return;
  for (const id of readdirSync(forkDir).filter((n) => /^fork-\d+$/.test(n))) {
    const sup = readJsonOrNull(forkJobFiles(forkDir, id).supervisor);
    if (!isRecord(sup) || typeof sup.pid !== 'number') continue;
    const pid = sup.pid;
    if (!isSameProcess(pid, typeof sup.startTime === 'string' ? sup.startTime : null)) continue;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
