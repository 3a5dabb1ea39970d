// "A test suite leaves nothing running": every process a test run starts inherits
// HPC_BRIDGE_TEST_RUN=<id> (set before the workers start; kept by execa, runuser, sbatch
// --export=ALL, qsub -V …). After the suite, any process still carrying it — a fork job, a
// bridge, a daemon of the harness, a notebook — is a leftover: the check names it, kills it
// (by pid: it is this run's own) and fails the run.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

export const RUN_VARIABLE = 'HPC_BRIDGE_TEST_RUN';

export interface Leftover {
  pid: number;
  cmdline: string;
}

function ancestors(): Set<number> {
  const out = new Set<number>();
  for (let p: number | null = process.pid; p !== null && p > 1 && !out.has(p); ) {
    out.add(p);
    try {
      const stat: string = readFileSync(`/proc/${p}/stat`, 'utf8');
      p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      p = null;
    }
  }
  return out;
}

/** Live processes (not zombies) whose environment holds RUN_VARIABLE=runId, other than us, our ancestors and vitest's workers. */
export function leftoverProcesses(runId: string): Leftover[] {
  const mine = ancestors();
  const needle = `${RUN_VARIABLE}=${runId}`;
  const out: Leftover[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (mine.has(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(needle)) continue;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (/\/vitest\/|tinypool|^node \(vitest/.test(cmdline)) continue; // vitest's own workers, ending with the run
      out.push({ pid, cmdline });
    } catch {
      /* gone meanwhile, or not ours to read */
    }
  }
  return out;
}

/** Marks this run (process.env, inherited by everything started from now on); returns its id. */
export function markTestRun(): string {
  const id = process.env[RUN_VARIABLE] ?? randomUUID();
  process.env[RUN_VARIABLE] = id;
  return id;
}

/**
 * The leftovers still there after `graceMs` (processes being stopped get that long), each
 * then SIGKILLed. Returns what was found.
 */
export async function reapLeftovers(runId: string, graceMs = 5_000): Promise<Leftover[]> {
  const deadline = Date.now() + graceMs;
  let found = leftoverProcesses(runId);
  while (found.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    found = leftoverProcesses(runId);
  }
  for (const p of found) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  return found;
}
