// `hpc-wrap fork-run` (hidden): the supervisor of one fork job. It leads its own process
// group (the adapter spawns it detached), records who it is, runs the job script with
// stdout+stderr appended to the output file, and records the exit status. Cancelling
// signals the whole group, so the supervisor itself ignores SIGTERM/SIGINT/SIGHUP and
// stays to record how the script ended.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../../json-files.js';
import { forkJobFiles, type ForkExitRecord } from './fork.js';
import { processStartTime } from '../process-identity.js';

export interface ForkRunOptions {
  jobDir: string;
  script: string;
  output: string;
  chdir: string | null;
  /** The job's session marker (the submit has written it already; written again, unchanged). */
  marker?: string | null;
}

export function forkRun(opts: ForkRunOptions): Promise<number> {
  const files = forkJobFiles(dirname(opts.jobDir), basename(opts.jobDir));
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => {});
  if (opts.marker) writeFileAtomic(files.marker, `${opts.marker}\n`);
  const out = openSync(opts.output, 'a', 0o600);
  writeJsonAtomic(files.supervisor, { pid: process.pid, startTime: processStartTime(process.pid), startedAt: new Date().toISOString() });
  return new Promise((resolve) => {
    let done = false;
    const finish = (rec: Omit<ForkExitRecord, 'endedAt'>) => {
      if (done) return;
      done = true;
      if (rec.error) writeSync(out, `hpc-wrap fork-run: ${rec.error}\n`);
      closeSync(out);
      writeJsonAtomic(files.exit, { ...rec, endedAt: new Date().toISOString() });
      resolve(0);
    };
    // Abandoned while this supervisor was starting (fork.ts abandon): the script never runs.
    // (Checked after supervisor.json is written: the abandoning side checks in the other
    // order, so one of the two always sees the other.)
    if (existsSync(files.cancelled)) return finish({ exitCode: null, signal: null, error: 'the job was cancelled before its supervisor had started' });
    // Like a batch system, the job learns its own id (start-env's duplicate guard reads it).
    const env = { ...process.env, HPC_WRAP_JOB_ID: basename(opts.jobDir) };
    const child = spawn(opts.script, [], { cwd: opts.chdir ?? undefined, stdio: ['ignore', out, out], env });
    child.once('error', (err) => finish({ exitCode: 127, signal: null, error: `cannot run ${opts.script}: ${err.message}` }));
    child.once('exit', (code, signal) => finish({ exitCode: code, signal }));
  });
}
