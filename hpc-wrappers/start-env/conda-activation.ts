// Conda activation as data. `conda shell.posix activate ENV` prints shell code made from
// conda's PosixActivator templates (conda/activate.py, unchanged from 4.x to 24.x):
//   export NAME='VALUE'      unset NAME      NAME='VALUE' (PS1)      . "/prefix/etc/conda/activate.d/x.sh"
// Values are put between single quotes as they are (conda escapes nothing). This reads
// those lines without a shell; activate.d scripts cannot be run without one and are
// reported. Without conda (a conda-pack env, a prefix) the activation is computed.
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { EnvChange } from './env-changes.js';

export interface CondaActivation {
  changes: EnvChange[];
  /** activate.d scripts conda would source (not run by hpc-wrap). */
  scripts: string[];
}

const NAME = '[A-Za-z_][A-Za-z0-9_]*';

export function parsePosixActivate(text: string): CondaActivation {
  const changes: EnvChange[] = [];
  const scripts: string[] = [];
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const blank = /^[ \t]*\n/.exec(rest);
    if (blank) {
      i += blank[0].length;
      continue;
    }
    const assign = new RegExp(`^(export )?(${NAME})='`).exec(rest);
    if (assign) {
      // The value runs to the quote that ends the line (conda does not escape quotes).
      const start = i + assign[0].length;
      let end = text.indexOf("'\n", start);
      if (end < 0 && text.endsWith("'")) end = text.length - 1;
      if (end < 0) throw new Error(`unterminated value of ${assign[2]}`);
      if (assign[1]) changes.push({ name: assign[2]!, value: text.slice(start, end) });
      // else a shell variable such as PS1: not part of the environment
      i = end + 2;
      continue;
    }
    const unset = new RegExp(`^unset (${NAME})[ \t]*(\n|$)`).exec(rest);
    if (unset) {
      changes.push({ name: unset[1]!, value: null });
      i += unset[0].length;
      continue;
    }
    const script = /^\. "([^"\n]+)"[ \t]*(\n|$)/.exec(rest);
    if (script) {
      scripts.push(script[1]!);
      i += script[0].length;
      continue;
    }
    throw new Error(`unexpected line ${JSON.stringify(rest.split('\n')[0]!.slice(0, 80))}`);
  }
  return { changes, scripts };
}

/** What `conda activate PREFIX` does for a first-level activation, computed. */
export function prefixActivation(prefix: string, name: string, base: Record<string, string>): CondaActivation {
  const path = base.PATH ? `${join(prefix, 'bin')}:${base.PATH}` : join(prefix, 'bin');
  const changes: EnvChange[] = [
    { name: 'PATH', value: path },
    { name: 'CONDA_PREFIX', value: prefix },
    { name: 'CONDA_SHLVL', value: '1' },
    { name: 'CONDA_DEFAULT_ENV', value: name },
    { name: 'CONDA_PROMPT_MODIFIER', value: `(${name}) ` },
  ];
  const dir = join(prefix, 'etc', 'conda', 'activate.d');
  let scripts: string[] = [];
  try {
    scripts = readdirSync(dir)
      .filter((f) => f.endsWith('.sh'))
      .sort()
      .map((f) => join(dir, f));
  } catch {
    /* none */
  }
  return { changes, scripts };
}

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The root of a conda installation given as its directory or its etc/profile.d/conda.sh. */
export function condaRoot(init: string): string {
  return init.endsWith('/etc/profile.d/conda.sh') ? init.slice(0, -'/etc/profile.d/conda.sh'.length) : init;
}

/**
 * The conda (or mamba) program to run: from `init`, else $CONDA_EXE, else the job's PATH.
 * null when there is none (the caller decides whether it needs one).
 */
export function findCondaProgram(program: 'conda' | 'mamba', init: string | null, base: Record<string, string>): string | null {
  if (init !== null) {
    const root = condaRoot(init);
    return [join(root, 'bin', program), join(root, 'condabin', program)].find(executable) ?? null;
  }
  const condaExe = base.CONDA_EXE;
  if (condaExe && condaExe.startsWith('/')) {
    const p = program === 'conda' ? condaExe : join(dirname(condaExe), program);
    if (executable(p)) return p;
  }
  for (const dir of (base.PATH ?? '').split(':')) {
    if (dir.startsWith('/') && executable(join(dir, program))) return join(dir, program);
  }
  return null;
}

/** A name for CONDA_DEFAULT_ENV from a tarball or prefix path. */
export function envDisplayName(path: string): string {
  return basename(path).replace(/\.(tar\.gz|tgz|tar\.zst|tar|tar\.bz2|zip)$/, '') || path;
}
