// Environment modules: `module load` without a shell. Lmod's machine interface
// (`<lmod> python load A B`) prints Python statements; lmod-output.ts reads them as data
// and the changes go into the server's env. Lmod runs with the job's env (never the hub's)
// plus the configured MODULEPATH additions. Exported for the container step, which loads
// the modules that provide the container runtime.
import { existsSync, statSync } from 'node:fs';
import type { ModulesSpec } from '../../config/schema-software.js';
import { applyEnvChanges, helperEnv } from './env-changes.js';
import { helperFailure, runHelper, type HelperResult } from './helper-process.js';
import { LmodOutputError, lmodErrorText, parseLmodPython, unknownModules } from './lmod-output.js';
import { inEnvironment, type EnvironmentContext, type EnvironmentStep } from './steps.js';

/** Where Debian/Ubuntu (and the EL packages) install Lmod's command. */
export const DEFAULT_LMOD = '/usr/share/lmod/lmod/libexec/lmod';

export type ModuleLoad = Pick<ModulesSpec, 'load' | 'modulePath' | 'lmodCommand' | 'purge' | 'timeoutSeconds'>;

export function lmodArgv(spec: Pick<ModulesSpec, 'lmodCommand'>, jobEnv: NodeJS.ProcessEnv = process.env): string[] {
  if (spec.lmodCommand) return [...spec.lmodCommand];
  const fromJob = jobEnv.LMOD_CMD;
  return [fromJob && fromJob.startsWith('/') ? fromJob : DEFAULT_LMOD];
}

/** Checks that need no Lmod: the module path directories exist. `key` is the config key of the section. */
export function preflightModules(spec: ModuleLoad, key = 'modules'): void {
  for (const dir of spec.modulePath) {
    if (!existsSync(dir)) throw new Error(`${key}.modulePath: ${dir} does not exist`);
    if (!statSync(dir).isDirectory()) throw new Error(`${key}.modulePath: ${dir} is not a directory`);
  }
}

type LmodContext = Pick<EnvironmentContext, 'env' | 'hubEnv' | 'say'>;

async function lmod(ctx: LmodContext, spec: ModuleLoad, key: string, args: string[]): Promise<HelperResult & { base: Record<string, string> }> {
  const argv = [...lmodArgv(spec), 'python', ...args];
  const base = helperEnv(ctx);
  const timeoutMs = spec.timeoutSeconds * 1000;
  const r = await runHelper(argv, { env: base, timeoutMs, encoding: 'latin1' });
  if (r.spawnError) {
    throw new Error(`${key}.lmodCommand: cannot run ${argv[0]}: ${r.spawnError} (install Lmod, e.g. Debian's lmod package, or set ${key}.lmodCommand)`);
  }
  if (r.timedOut) throw new Error(`${key}.timeoutSeconds: ${helperFailure('Lmod', r, timeoutMs)}`);
  return { ...r, base };
}

function apply(ctx: LmodContext, key: string, r: HelperResult & { base: Record<string, string> }): void {
  let parsed;
  try {
    parsed = parseLmodPython(r.stdout);
  } catch (err) {
    if (err instanceof LmodOutputError) throw new Error(`${key}.lmodCommand: cannot read Lmod's output (${err.message}); is it Lmod?`);
    throw err;
  }
  const refused = applyEnvChanges(ctx, r.base, parsed.changes);
  if (refused.length) ctx.say(`${key}: ignored changes of ${refused.join(', ')} (reserved for the hub and hpc-wrap, or holding NUL)`);
}

function failure(spec: ModuleLoad, key: string, loadKey: string, args: string[], r: HelperResult & { base: Record<string, string> }): Error {
  const unknown = unknownModules(r.stderr);
  if (unknown.length) {
    const m = unknown[0]!;
    const dep = spec.load.includes(m) ? '' : ` (needed by a module in ${loadKey})`;
    return new Error(`${loadKey}: module '${m}' not found${dep} (MODULEPATH: ${r.base.MODULEPATH || '(empty)'})`);
  }
  const what = args[0] === 'purge' ? `${key}.purge: module purge failed` : `${loadKey}: Lmod could not load ${spec.load.join(' ')}`;
  return new Error(`${what}: ${lmodErrorText(r.stderr) || `exit status ${r.exitCode}`}`);
}

/**
 * Loads `spec.load` (after `module purge` when asked) into ctx.env. Messages name `key`'s
 * options, and `loadKey` for the module list (e.g. 'container.loadModules' for the container step).
 */
export async function loadModules(ctx: LmodContext, spec: ModuleLoad, key = 'modules', loadKey = `${key}.load`): Promise<void> {
  if (spec.modulePath.length) {
    const have = (ctx.env.MODULEPATH ?? '').split(':').filter(Boolean);
    ctx.env.MODULEPATH = [...have, ...spec.modulePath.filter((d) => !have.includes(d))].join(':');
  }
  const calls: string[][] = [...(spec.purge ? [['purge']] : []), ...(spec.load.length ? [['load', ...spec.load]] : [])];
  for (const args of calls) {
    const r = await lmod(ctx, spec, key, args);
    // Lmod prints `_mlstatus = False` and exits 1 when anything failed; nothing is applied then.
    if (r.exitCode !== 0 || /^_mlstatus = False/m.test(r.stdout)) throw failure(spec, key, loadKey, args, r);
    for (const line of r.stderr.split('\n')) if (line.trim()) ctx.say(`Lmod: ${line.trim()}`);
    apply(ctx, key, r);
  }
}

export const modulesStep: EnvironmentStep = {
  name: 'modules',
  check(ctx) {
    const spec = ctx.job.environment?.spec.modules;
    if (!spec) return;
    try {
      preflightModules(spec);
    } catch (err) {
      throw new Error(`${(err as Error).message}${inEnvironment(ctx)}`);
    }
  },
  async prepare(ctx) {
    const spec = ctx.job.environment?.spec.modules;
    if (!spec || (!spec.load.length && !spec.purge && !spec.modulePath.length)) return;
    await loadModules(ctx, spec);
    if (spec.load.length) ctx.say(`loaded modules: ${spec.load.join(' ')}`);
  },
};
