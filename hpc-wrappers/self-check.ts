// `hpc-wrap doctor`: the HPC side's own view of its health, as JSON, for `hpc-bridge
// doctor` to read through the transport (and for an operator on the login node).
import { writableOrCreatable } from '../config/writable-path.js';
import type { CommandContext } from './command-context.js';
import { mainErrorLine, schedulerEnvHint } from '../config/scheduler-env-vars.js';
import { checkEnvironmentModules, type EnvironmentModules } from './doctor-modules.js';

declare const __HPC_BRIDGE_VERSION__: string | undefined;
export const HPC_WRAP_VERSION = typeof __HPC_BRIDGE_VERSION__ === 'string' ? __HPC_BRIDGE_VERSION__ : 'dev';

export interface SelfCheck {
  version: string;
  node: string;
  config: string | null;
  workDir: { path: string; writable: boolean; error: string | null };
  scheduler: { name: string; batchSystem: boolean; reachable: boolean; error: string | null };
  maintenance: boolean;
  /** Each environment's modules as a job's Lmod finds them (doctor-modules.ts). */
  modules: EnvironmentModules[];
}

export async function selfCheck(ctx: CommandContext): Promise<SelfCheck> {
  const { ok: writable, error } = writableOrCreatable(ctx.config.workDir);
  const scheduler = ctx.scheduler();
  // One query for an id nobody has: answers whether the scheduler can be reached at all.
  const probe = await scheduler.query(['1']);
  const desc = scheduler.describe();
  return {
    version: HPC_WRAP_VERSION,
    node: process.version,
    config: ctx.configPath,
    workDir: { path: ctx.config.workDir, writable, error },
    scheduler: { name: desc.name, batchSystem: desc.batchSystem, reachable: probe.reachable, error: probe.error },
    maintenance: ctx.config.maintenance.enabled,
    modules: await checkEnvironmentModules(ctx.config),
  };
}

/** Each failed check as a sentence saying what to do (empty: all well). The JSON report is printed either way. */
export function selfCheckProblems(r: SelfCheck): string[] {
  const out: string[] = [];
  if (!r.workDir.writable) out.push(`work dir ${r.workDir.path} is not writable: ${r.workDir.error}; create it writable by this account (workDir in hpc-wrap.yaml)`);
  if (!r.scheduler.reachable) {
    out.push(
      `the scheduler (${r.scheduler.name}) does not answer: ${mainErrorLine(r.scheduler.error ?? 'no reason given')}; ${schedulerEnvHint(r.scheduler.name)}`,
    );
  }
  return out;
}
