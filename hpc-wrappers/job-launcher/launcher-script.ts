// The batch script of a plain job: its server is started by start_job.py, hpc-wrap's job
// launcher in Python's standard library (no Node start before the server: issue 10), when
// the node has python3; else, and whenever the launcher is not sure it can do what
// start-env would, by `hpc-wrap start-env` itself. The launcher's text is in the script
// (a here-document fed to `python3 -`), so that nothing is installed beside the one
// hpc-wrap file: the build writes the program into the bundle (scripts/hpc-wrap-bundle.mjs).
import { readFileSync } from 'node:fs';
import { shQuote, startEnvCommandLine, type BatchScriptInput } from '../startjob/batch-script.js';
import type { JobDescription } from '../startjob/job-description.js';

declare const __HPC_WRAP_JOB_LAUNCHER__: string | undefined;

export const LAUNCHER_END = 'HPC_WRAP_LAUNCHER';

/** The program's files, in order: one Python program, its `if __name__` at the end. */
export const LAUNCHER_FILES = ['ssh_tunnel.py', 'start_job.py'] as const;

/** The launcher's text (LAUNCHER_FILES joined): from the bundle, or beside this file when run from source. */
export function launcherProgram(): string {
  if (typeof __HPC_WRAP_JOB_LAUNCHER__ === 'string') return __HPC_WRAP_JOB_LAUNCHER__;
  return joinLauncherFiles((name) => readFileSync(new URL(`./${name}`, import.meta.url), 'utf8'));
}

export function joinLauncherFiles(read: (name: string) => string): string {
  return LAUNCHER_FILES.map((name) => `# --- ${name}\n${read(name)}`).join('\n');
}

/** A job the launcher runs: none of the steps only start-env has (environment, overlay, WebDAV); a tunnel is held by ssh. */
export function launcherRuns(job: Pick<JobDescription, 'environment' | 'overlay' | 'webdav'>): boolean {
  return job.environment === null && job.overlay === null && job.webdav?.enabled !== true;
}

/**
 * `#!/bin/sh`: the launcher under the first python3 found (/usr/bin's first: a python3 on
 * PATH may be a version manager's shim that costs more than Node), else start-env. The
 * launcher gets start-env's command to hand the job to.
 */
export function renderLauncherScript(input: BatchScriptInput, program = launcherProgram()): string {
  if (program.split('\n').includes(LAUNCHER_END)) throw new Error(`the launcher program has a line ${LAUNCHER_END}, which ends its here-document`);
  const fallback = startEnvCommandLine(input);
  return [
    '#!/bin/sh',
    '# hpc-wrap: the server starts by its Python launcher (stdlib only) when the node has python3, else by start-env.',
    'for py in /usr/bin/python3 python3; do',
    '  command -v "$py" >/dev/null 2>&1 || continue',
    `  exec "$py" -E -s -S - --run-dir ${shQuote(input.runDir)} -- ${fallback} <<'${LAUNCHER_END}'`,
    program.replace(/\n$/, ''),
    LAUNCHER_END,
    'done',
    `exec ${fallback}`,
    '',
  ].join('\n');
}
