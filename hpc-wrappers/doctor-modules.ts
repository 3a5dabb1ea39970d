// `hpc-wrap doctor`'s look at the environments' modules: each module an environment loads
// (and its container runtime's) asked of Lmod with the MODULEPATH a job of the bridge gets —
// this process's (the bridge runs doctor the way it submits: over SSH, without a login
// shell) plus the environment's modulePath. A hand-written hpc-wrap.yaml without modulePath
// passes `module avail` in the operator's login shell and fails every spawn; this says so
// before a student does. The compute nodes may have module trees the login node lacks, so
// the hub's doctor shows a miss as WARN, not FAIL.
import type { HpcWrapConfig } from '../config/schema-hpc-wrap.js';
import { lmodArgv } from './start-env/modules-step.js';
import { missingModules } from './wizard/module-probe.js';

export interface EnvironmentModules {
  environment: string;
  /** The modules asked for (modules.load, then container.loadModules). */
  modules: string[];
  missing: string[];
  /** MODULEPATH as the job would have it. */
  modulePath: string;
  /** Lmod could not be asked (not installed, no answer). */
  error: string | null;
}

export async function checkEnvironmentModules(config: Pick<HpcWrapConfig, 'environments'>, env: NodeJS.ProcessEnv = process.env): Promise<EnvironmentModules[]> {
  const out: EnvironmentModules[] = [];
  for (const [name, spec] of Object.entries(config.environments)) {
    const modules = [...(spec.modules?.load ?? []), ...(spec.container?.loadModules ?? [])];
    if (!modules.length) continue;
    const have = (env.MODULEPATH ?? '').split(':').filter(Boolean);
    const modulePath = [...have, ...(spec.modules?.modulePath ?? []).filter((d) => !have.includes(d))].join(':');
    const timeoutMs = Math.min(spec.modules?.timeoutSeconds ?? 60, 20) * 1000;
    const r = await missingModules(lmodArgv({ lmodCommand: spec.modules?.lmodCommand ?? null }, env), modules, { ...env, MODULEPATH: modulePath }, timeoutMs);
    out.push({ environment: name, modules, modulePath, missing: 'error' in r ? [] : r, error: 'error' in r ? r.error : null });
  }
  return out;
}
