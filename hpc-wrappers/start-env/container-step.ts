// The container step: when the job's environment has a `container`, the server runs as
// `<runtime> exec … <image> <server argv>` (container-argv.ts). Only jupyterhub-singleuser
// must exist in the image: start-env itself, the port report and the tunnel agent stay
// outside, on the node.
//
// Secrets (the hub's API token …) never reach argv. Without cleanEnv the runtime passes
// the server's environment into the container itself (Singularity/Apptainer default).
// With cleanEnv (--cleanenv) the hub's variables, JUPYTERHUB_* and passEnv are handed over
// as SINGULARITYENV_<NAME> / APPTAINERENV_<NAME> in the runtime's environment, which the
// runtime documents as the way to set variables in a clean container.
//
// `loadModules` (e.g. ["singularity"]) is loaded with the modules step's Lmod call before
// the runtime is looked up on PATH.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { delimiter, join } from 'node:path';
import { isImageUri, type ContainerSpec } from '../../config/schema-container.js';
import { buildContainerArgv, containerEnvPrefix, type ContainerBind, type ContainerInvocation, type GpuSupport } from './container-argv.js';
import { loadModules } from './modules-step.js';
import type { EnvironmentContext, EnvironmentStep } from './steps.js';

/**
 * Did the job get GPUs? From the request when we made it; for a ready batch script (whose
 * request we cannot see) from the variables the scheduler sets in such a job — its
 * dialect's gpuVariables, recorded in job.json at submit time.
 */
export function gpusRequested(gpus: number | null, env: Readonly<Record<string, string>>, gpuVariables: readonly string[]): boolean {
  if (gpus !== null) return gpus > 0;
  return gpuVariables.some((k) => {
    const v = env[k]?.trim();
    return Boolean(v) && v !== '0' && v !== 'NoDevFiles';
  });
}

export function gpuSupport(spec: Pick<ContainerSpec, 'gpu' | 'gpuWhen'>, requested: boolean): GpuSupport {
  if (spec.gpu === 'none') return 'none';
  return spec.gpuWhen === 'always' || requested ? spec.gpu : 'none';
}

/** The executable `program` resolves to with this PATH, or null. */
export function findExecutable(program: string, path: string | undefined): string | null {
  const candidates = program.includes('/') ? [program] : (path ?? '').split(delimiter).filter(Boolean).map((d) => join(d, program));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return c;
    } catch {
      /* next */
    }
  }
  return null;
}

interface Plan {
  spec: ContainerSpec;
  image: string;
  gpu: GpuSupport;
  binds: ContainerBind[];
}

const plans = new WeakMap<EnvironmentContext, Plan>();

function where(ctx: EnvironmentContext, key: string): string {
  return `environments.${ctx.job.environment?.name ?? '?'}.container.${key} in hpc-wrap.yaml`;
}

/** The variables a --cleanenv container gets, under the runtime's prefix. */
export function cleanEnvHandover(env: Readonly<Record<string, string>>, hubEnv: Readonly<Record<string, string>>, spec: Pick<ContainerSpec, 'passEnv' | 'runtime'>): Record<string, string> {
  const prefix = containerEnvPrefix(spec.runtime);
  const names = new Set<string>([...Object.keys(hubEnv), ...Object.keys(env).filter((k) => /^(JUPYTERHUB_|JPY_)/.test(k)), ...spec.passEnv]);
  names.delete('HOME'); // --home sets it
  const out: Record<string, string> = {};
  for (const k of names) if (env[k] !== undefined) out[`${prefix}${k}`] = env[k]!;
  return out;
}

function invocation(plan: Plan, ctx: EnvironmentContext, command: string[]): ContainerInvocation {
  const { spec } = plan;
  return {
    runtime: spec.runtime,
    image: plan.image,
    gpu: plan.gpu,
    home: ctx.job.home ? { source: ctx.job.home, target: spec.home ?? ctx.job.home } : null,
    noMount: spec.noMount,
    binds: plan.binds,
    overlay: spec.overlay ? ctx.overlay : null,
    cleanEnv: spec.cleanEnv,
    extraArgs: spec.extraArgs,
    command,
  };
}

export const containerStep: EnvironmentStep = {
  name: 'container',
  async prepare(ctx) {
    const spec = ctx.job.environment?.spec.container;
    if (!spec) return;
    if (spec.loadModules.length) {
      // Through the modules step's Lmod call, with the environment's Lmod settings (if any).
      const mods = ctx.job.environment?.spec.modules;
      await loadModules(
        ctx,
        { load: spec.loadModules, modulePath: mods?.modulePath ?? [], lmodCommand: mods?.lmodCommand ?? null, purge: false, timeoutSeconds: mods?.timeoutSeconds ?? 60 },
        `environments.${ctx.job.environment?.name ?? '?'}.container.loadModules`,
      );
    }
    const program = spec.runtime[0]!;
    if (!findExecutable(program, ctx.env.PATH)) {
      throw new Error(`the container runtime "${program}" was not found on node ${hostname()} (${where(ctx, 'runtime')}); on many clusters it needs \`module load singularity\` or apptainer first`);
    }
    const requested = gpusRequested(ctx.job.gpus, ctx.env, ctx.job.gpuVariables);
    const image = requested && spec.gpuImage ? spec.gpuImage : spec.image;
    if (!isImageUri(image) && !existsSync(image)) {
      throw new Error(`the container image ${image} does not exist on node ${hostname()} (${where(ctx, requested && spec.gpuImage ? 'gpuImage' : 'image')})`);
    }
    for (const b of spec.extraBinds) {
      if (!existsSync(b.source)) throw new Error(`the bind source ${b.source} does not exist on node ${hostname()} (${where(ctx, 'extraBinds')})`);
    }
    for (const b of ctx.containerBinds) {
      if (!existsSync(b.source)) throw new Error(`the bind source ${b.source} (made by an earlier environment step) does not exist on node ${hostname()}`);
    }
    const binds: ContainerBind[] = [...ctx.containerBinds, ...spec.extraBinds].map((b) => ({ source: b.source, target: b.target ?? b.source, mode: b.mode }));
    const plan: Plan = { spec, image, gpu: gpuSupport(spec, requested), binds };
    buildContainerArgv(invocation(plan, ctx, ['true'])); // refuses unmountable paths now, inside the step
    plans.set(ctx, plan);
    ctx.say(`the server runs in the container ${image} (${spec.runtime.join(' ')}${ctx.overlay ? `, overlay ${ctx.overlay.path}${ctx.overlay.readOnly ? ' read-only' : ''}` : ''})`);
  },
  wrapCommand(argv, ctx) {
    const plan = plans.get(ctx);
    if (!plan) return argv;
    const { spec } = plan;
    // Here, not in prepare: steps listed after this one may still change the env.
    if (spec.cleanEnv) Object.assign(ctx.env, cleanEnvHandover(ctx.env, ctx.hubEnv, spec));
    return buildContainerArgv(invocation(plan, ctx, argv));
  },
  async teardown(ctx) {
    plans.delete(ctx);
  },
};
