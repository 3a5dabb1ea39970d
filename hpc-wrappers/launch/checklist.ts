// Pre-flight on the login node, before anything is submitted (galyleo's checklist): the
// notebook directory is writable, the modules load, the image exists (and has Jupyter,
// when the runtime is here), the conda files are valid and the environment activates,
// and Jupyter runs in the chosen environment. Each check has the --checklist-timeout;
// each failure names the option to fix. Helpers run as argv arrays with an explicit env.
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { isImageUri } from '../../config/schema-container.js';
import type { HpcWrapConfig } from '../../config/schema.js';
import { applyEnvChanges } from '../start-env/env-changes.js';
import { checkCondaFiles } from '../start-env/conda-step.js';
import { findCondaProgram, parsePosixActivate } from '../start-env/conda-activation.js';
import { findExecutable } from '../start-env/container-step.js';
import { helperFailure, helperMessage, runHelper, succeeded } from '../start-env/helper-process.js';
import { loadModules } from '../start-env/modules-step.js';
import type { ResolvedLaunch } from './resolve-options.js';

export interface ChecklistFailure {
  option: string;
  message: string;
}

export interface ChecklistResult {
  failures: ChecklistFailure[];
  /** What could not be checked here (e.g. no container runtime on the login node). */
  notes: string[];
}

const PACKAGE_OF: Record<ResolvedLaunch['interface'], RegExp> = {
  lab: /^(jupyterlab)\b/i,
  notebook: /^(notebook|jupyter)\b/i,
  voila: /^(voila)\b/i,
};

/** The option a message of the shared step code ("modules.load: …", "conda.yml: …") is about. */
function optionFor(message: string, named: boolean): string {
  if (named) return '--environment';
  const key = /^([a-z]+\.[A-Za-z]+)/.exec(message)?.[1] ?? '';
  const map: Record<string, string> = {
    'modules.load': '--env-modules',
    'modules.modulePath': '--append-modulepath',
    'modules.lmodCommand': '--env-modules',
    'modules.timeoutSeconds': '--checklist-timeout',
    'modules.purge': '--env-modules',
    'conda.init': '--conda-init',
    'conda.env': '--conda-env',
    'conda.pack': '--conda-pack',
    'conda.yml': '--conda-yml',
    'conda.scratch': '--scratch-dir',
  };
  return map[key] ?? (message.includes('container') ? '--sif' : '--env-modules');
}

function tail(text: string, lines = 3): string {
  return text.trim().split('\n').slice(-lines).join(' | ').slice(0, 400);
}

export interface ChecklistInput {
  cfg: HpcWrapConfig;
  resolved: ResolvedLaunch;
  /** The login shell's environment (the job inherits it with sbatch's --export=ALL). */
  env: Record<string, string>;
}

export async function runChecklist(input: ChecklistInput): Promise<ChecklistResult> {
  const { cfg, resolved } = input;
  const timeoutMs = resolved.checklist.timeoutSeconds * 1000;
  const failures: ChecklistFailure[] = [];
  const notes: string[] = [];
  const env = { ...input.env };
  const spec = resolved.environment?.spec ?? null;
  const named = resolved.environment !== null && resolved.environment.name !== 'options';
  const ctx = { env, hubEnv: {}, say: () => {} };

  // Notebook directory.
  const dir = resolved.notebookDir;
  if (!existsSync(dir)) failures.push({ option: '--notebook-dir', message: `${dir} does not exist` });
  else if (!statSync(dir).isDirectory()) failures.push({ option: '--notebook-dir', message: `${dir} is not a directory` });
  else {
    try {
      accessSync(dir, constants.W_OK | constants.X_OK);
    } catch {
      failures.push({ option: '--notebook-dir', message: `${dir} is not writable by you` });
    }
  }

  // Modules (and what they put on PATH for the checks below).
  const loads = [
    ...(spec?.modules ? [{ spec: spec.modules, key: 'modules' }] : []),
    ...(spec?.container?.loadModules.length
      ? [{ spec: { load: spec.container.loadModules, modulePath: spec.modules?.modulePath ?? [], lmodCommand: spec.modules?.lmodCommand ?? null, purge: false, timeoutSeconds: 60 }, key: 'container' }]
      : []),
  ];
  let modulesOk = true;
  for (const l of loads) {
    try {
      await loadModules(ctx, { ...l.spec, timeoutSeconds: resolved.checklist.timeoutSeconds });
    } catch (err) {
      modulesOk = false;
      const message = (err as Error).message;
      failures.push({ option: l.key === 'container' ? '--sif' : optionFor(message, named), message: l.key === 'container' ? `the modules that provide the container runtime: ${message}` : message.replace(/^modules\.[A-Za-z]+: /, '') });
    }
  }
  if (!modulesOk) return { failures, notes };

  // Container image.
  if (spec?.container) {
    const c = spec.container;
    const opt = named ? '--environment' : '--sif';
    if (!isImageUri(c.image) && !existsSync(c.image)) failures.push({ option: opt, message: `the image ${c.image} does not exist` });
    else {
      const runtime = findExecutable(c.runtime[0]!, env.PATH);
      if (!runtime) notes.push(`${c.runtime[0]} is not on this node's PATH: the image is checked when the job starts`);
      else {
        const argv = [runtime, ...c.runtime.slice(1), 'exec', c.image, ...cfg.launch.jupyterCommand[resolved.interface], '--version'];
        const r = await runHelper(argv, { env, timeoutMs });
        if (!succeeded(r)) failures.push({ option: opt, message: `${cfg.launch.jupyterCommand[resolved.interface].join(' ')} does not run in ${c.image}: ${helperFailure(c.runtime[0]!, r, timeoutMs)}${r.stderr.trim() ? `: ${tail(r.stderr)}` : ''}` });
      }
    }
    return { failures, notes };
  }

  // Conda.
  if (spec?.conda) {
    const c = spec.conda;
    try {
      checkCondaFiles({ ...c, scratch: null }); // node-local scratch need not exist on the login node
    } catch (err) {
      failures.push({ option: optionFor((err as Error).message, named), message: (err as Error).message.replace(/^conda\.[a-z]+: /, '') });
      return { failures, notes };
    }
    if (c.yml !== null) {
      const program = c.useMamba ? 'mamba' : 'conda';
      if (!findCondaProgram(program, c.init, env)) failures.push({ option: c.useMamba ? '--mamba' : '--conda-init', message: `creating ${c.yml} needs ${program}: give --conda-init or load it with --env-modules` });
      if (!ymlProvides(c.yml, PACKAGE_OF[resolved.interface])) {
        failures.push({ option: named ? '--environment' : '--conda-yml', message: `${c.yml} does not list ${resolved.interface === 'lab' ? 'jupyterlab' : resolved.interface} in its dependencies (needed by --jupyter ${resolved.interface})` });
      }
      return { failures, notes };
    }
    if (c.pack !== null) {
      notes.push('the --conda-pack environment is checked when the job unpacks it');
      return { failures, notes };
    }
    const conda = findCondaProgram('conda', c.init, env);
    if (conda) {
      const r = await runHelper([conda, 'shell.posix', 'activate', c.env!], { env, timeoutMs });
      if (!succeeded(r)) {
        failures.push({ option: named ? '--environment' : '--conda-env', message: `conda could not activate '${c.env}': ${helperFailure(conda, r, timeoutMs)}${helperMessage(r) ? `: ${helperMessage(r)}` : ''}` });
        return { failures, notes };
      }
      try {
        applyEnvChanges(ctx, { ...env }, parsePosixActivate(r.stdout).changes);
      } catch (err) {
        failures.push({ option: '--conda-env', message: `cannot read conda's activation: ${(err as Error).message}` });
        return { failures, notes };
      }
    } else if (!c.env!.includes('/')) {
      failures.push({ option: named ? '--environment' : '--conda-init', message: `activating '${c.env}' by name needs conda: give --conda-init (e.g. ~/miniconda3) or the environment's path` });
      return { failures, notes };
    } else {
      env.PATH = `${c.env}/bin:${env.PATH ?? ''}`;
    }
  }

  // Jupyter in the environment.
  const cmd = cfg.launch.jupyterCommand[resolved.interface];
  const opt = named ? '--environment' : spec?.conda ? '--conda-env' : spec?.modules?.load.length ? '--env-modules' : '--jupyter';
  const exe = findExecutable(cmd[0]!, env.PATH);
  if (!exe) {
    failures.push({ option: opt, message: `${cmd[0]} is not on the PATH of the chosen environment; load it with --env-modules, --conda-env or --sif` });
    return { failures, notes };
  }
  const r = await runHelper([exe, ...cmd.slice(1), '--version'], { env, timeoutMs });
  if (!succeeded(r)) {
    failures.push({ option: opt, message: `\`${cmd.join(' ')}\` does not run in the chosen environment (is ${resolved.interface === 'lab' ? 'JupyterLab' : resolved.interface} installed?): ${helperFailure(cmd[0]!, r, timeoutMs)}${r.stderr.trim() ? `: ${tail(r.stderr)}` : ''}` });
  }
  return { failures, notes };
}

/** True when the environment.yml lists a package matching `pkg` (conda or pip dependency). */
export function ymlProvides(file: string, pkg: RegExp): boolean {
  let y: unknown;
  try {
    y = parseDocument(readFileSync(file, 'utf8')).toJS();
  } catch {
    return false;
  }
  const deps = (y as { dependencies?: unknown })?.dependencies;
  if (!Array.isArray(deps)) return false;
  const names: string[] = [];
  for (const d of deps) {
    if (typeof d === 'string') names.push(d);
    else if (d && typeof d === 'object' && Array.isArray((d as { pip?: unknown }).pip)) names.push(...((d as { pip: unknown[] }).pip.filter((x) => typeof x === 'string') as string[]));
  }
  return names.some((n) => pkg.test(n.replace(/^[a-z0-9_-]+::/i, '').trim()));
}
