// Turns the command line of `hpc-wrap launch` plus the site's `launch` defaults and
// limits into what is submitted: the scheduler resources, the software environment (the
// same spec the hub path's environments use), the interface and the notebook directory.
// Every value is checked here, and every error names the option to fix.
import { isAbsolute, resolve } from 'node:path';
import { isImageUri, type BindSpec, type ContainerSpec } from '../../config/schema-container.js';
import type { EnvironmentSpec } from '../../config/schema-environment.js';
import type { JupyterInterface } from '../../config/schema-launch.js';
import { condaSchema, modulesSchema, moduleName } from '../../config/schema-software.js';
import { resourcesSchema, type HpcWrapConfig, type Resources } from '../../config/schema-hpc-wrap.js';
import { walltimeSeconds } from './walltime.js';
import { WrapError } from '../errors.js';

export interface ResolvedLaunch {
  resources: Resources;
  interface: JupyterInterface;
  notebookDir: string;
  /** The software environment: a site environment by name, or one made from the options ("options"), or null. */
  environment: { name: string; spec: EnvironmentSpec } | null;
  keepAlive: number;
  checklist: { enabled: boolean; timeoutSeconds: number };
  output: 'normal' | 'quiet' | 'json';
}

export interface ResolveInput {
  /** yargs' result, keyed by the long option names. */
  args: Record<string, unknown>;
  config: HpcWrapConfig;
  cwd: string;
  home: string;
  /** Where --cache keeps conda-pack tarballs (<stateDir>/conda-cache). */
  condaCacheDir: string;
}

export class LaunchOptionError extends WrapError {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super('invalid', `${option}: ${message}`);
  }
}

const fail = (option: string, message: string): never => {
  throw new LaunchOptionError(option, message);
};

function list(v: unknown): string[] {
  if (v === undefined || v === null || v === false) return [];
  const items = Array.isArray(v) ? v : [v];
  return items.flatMap((x) => String(x).split(',')).map((s) => s.trim()).filter(Boolean);
}

function str(args: Record<string, unknown>, name: string): string | null {
  const v = args[name];
  if (v === undefined || v === null) return null;
  if (Array.isArray(v)) return fail(`--${name}`, 'give it once');
  const s = String(v);
  if (s === '') return fail(`--${name}`, 'needs a value');
  if (/[\0\n\r]/.test(s)) return fail(`--${name}`, 'must not contain NUL or line breaks');
  return s;
}

function int(args: Record<string, unknown>, name: string, min: number, max: number): number | null {
  const v = args[name];
  if (v === undefined || v === null) return null;
  if (Array.isArray(v)) return fail(`--${name}`, 'give it once');
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) return fail(`--${name}`, `${JSON.stringify(v)} is not a whole number from ${min} to ${max}`);
  return n;
}

function bool(args: Record<string, unknown>, name: string): boolean {
  return args[name] === true;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function schedulerName(args: Record<string, unknown>, name: string, fallback: string | null): string | null {
  const v = str(args, name) ?? fallback;
  if (v !== null && !NAME.test(v)) fail(`--${name}`, `${JSON.stringify(v)} is not a valid name (letters, digits, _ . -)`);
  return v;
}

const TIME = /^(\d+-)?\d{1,3}(:\d{2}){0,2}$/;

function absolutePath(option: string, value: string, cwd: string): string {
  if (value.includes('$')) fail(option, `${JSON.stringify(value)}: variables are not expanded here; give the path itself`);
  return isAbsolute(value) ? resolve(value) : resolve(cwd, value);
}

function parseBind(item: string, cwd: string): BindSpec {
  const parts = item.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) fail('--bind', `${JSON.stringify(item)} is not src[:dst[:ro|rw]]`);
  const [src, dst, mode] = parts as [string, string | undefined, string | undefined];
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') fail('--bind', `${JSON.stringify(item)}: the mode must be ro or rw`);
  const source = absolutePath('--bind', src, cwd);
  const target = dst === undefined ? null : dst.startsWith('/') ? dst : fail('--bind', `${JSON.stringify(item)}: the destination must be an absolute path`);
  // Singularity's default for a user bind is read-write.
  return { source, target, mode: (mode as 'ro' | 'rw' | undefined) ?? 'rw' };
}

function resources(args: Record<string, unknown>, cfg: HpcWrapConfig): Resources {
  const d = cfg.launch.defaults;
  const memoryGB = args.memory === undefined ? d.memoryGB : Number(args.memory);
  if (memoryGB !== null && (!Number.isFinite(memoryGB) || memoryGB <= 0 || memoryGB > 16 * 1024)) fail('--memory', `${JSON.stringify(args.memory)} is not an amount of GB (e.g. 2 or 0.5)`);
  const walltime = str(args, 'time-limit') ?? d.timeLimit;
  if (!TIME.test(walltime)) fail('--time-limit', `${JSON.stringify(walltime)} is not a time such as 00:30:00, 90 (minutes) or 1-00:00:00`);
  const constraints = list(args.constraint);
  for (const c of constraints) if (!/^[A-Za-z0-9_.|()!\[\]*-]{1,64}$/.test(c)) fail('--constraint', `${JSON.stringify(c)} is not a feature expression`);
  const gres = list(args.gres);
  for (const g of gres) if (!/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+){0,2}$/.test(g)) fail('--gres', `${JSON.stringify(g)} is not a generic resource such as gpu:p100:1`);
  const gpus = int(args, 'gpus', 0, 64) ?? 0;
  if (gpus > 0 && gres.some((g) => g.startsWith('gpu'))) fail('--gpus', 'give either --gpus or --gres gpu:..., not both');
  const r = {
    partition: schedulerName(args, 'partition', d.partition),
    account: schedulerName(args, 'account', d.account),
    qos: schedulerName(args, 'qos', null),
    reservation: schedulerName(args, 'reservation', null),
    cpus: int(args, 'cpus', 1, 1024) ?? d.cpus,
    memoryMB: memoryGB === null ? null : Math.max(16, Math.round(memoryGB * 1024)),
    gpus,
    walltime,
    constraint: constraints.length ? constraints.join('&') : null,
    nodes: int(args, 'nodes', 1, 100_000),
    ntasksPerNode: int(args, 'ntasks-per-node', 1, 100_000),
    ...(gres.length ? { gres } : {}),
    extraArgs: [],
  };
  const parsed = resourcesSchema.safeParse(r);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    fail(`--${String(issue.path[0] ?? 'resources')}`, issue.message);
  }
  return parsed.data!;
}

function checkLimits(r: Resources, keepAlive: number, cfg: HpcWrapConfig): void {
  const l = cfg.launch.limits;
  const where = (key: string) => `(launch.limits.${key} in hpc-wrap.yaml)`;
  if (l.maxCpus !== null && r.cpus > l.maxCpus) fail('--cpus', `${r.cpus} is more than this site allows: ${l.maxCpus} ${where('maxCpus')}`);
  if (l.maxMemoryGB !== null && r.memoryMB !== null && r.memoryMB > l.maxMemoryGB * 1024) fail('--memory', `${r.memoryMB / 1024} GB is more than this site allows: ${l.maxMemoryGB} GB ${where('maxMemoryGB')}`);
  if (l.maxTimeLimit !== null && walltimeSeconds(r.walltime) > walltimeSeconds(l.maxTimeLimit)) fail('--time-limit', `${r.walltime} is longer than this site allows: ${l.maxTimeLimit} ${where('maxTimeLimit')}`);
  if (l.maxNodes !== null && (r.nodes ?? 1) > l.maxNodes) fail('--nodes', `${r.nodes} is more than this site allows: ${l.maxNodes} ${where('maxNodes')}`);
  if (l.maxGpus !== null && r.gpus > l.maxGpus) fail('--gpus', `${r.gpus} is more than this site allows: ${l.maxGpus} ${where('maxGpus')}`);
  if (l.partitions !== null && r.partition !== null && !l.partitions.includes(r.partition)) fail('--partition', `${r.partition} is not one of ${l.partitions.join(', ')} ${where('partitions')}`);
  if (keepAlive > l.maxKeepAlive) fail('--keep-alive', `${keepAlive} is more than this site allows: ${l.maxKeepAlive} ${where('maxKeepAlive')}`);
}

const ENV_OPTIONS = ['env-modules', 'append-modulepath', 'sif', 'bind', 'nv', 'rocm', 'conda-init', 'conda-env', 'conda-pack', 'conda-yml', 'mamba', 'cache'];

function container(args: Record<string, unknown>, cfg: HpcWrapConfig, cwd: string): ContainerSpec | null {
  const sif = str(args, 'sif');
  const nv = bool(args, 'nv');
  const rocm = bool(args, 'rocm');
  const binds = list(args.bind);
  if (sif === null) {
    for (const [flag, given] of [['--nv', nv], ['--rocm', rocm], ['--bind', binds.length > 0]] as const) if (given) fail(flag, 'only with --sif (a container)');
    return null;
  }
  if (nv && rocm) fail('--rocm', 'give either --nv or --rocm');
  if (sif.startsWith('-')) fail('--sif', 'must not start with "-"');
  const image = isImageUri(sif) ? sif : absolutePath('--sif', sif, cwd);
  if (!isImageUri(sif) && /[,:]/.test(image)) fail('--sif', `${image}: a path with ',' or ':' cannot be used by the container runtime`);
  const extraBinds = binds.map((b) => parseBind(b, cwd));
  for (const b of extraBinds) for (const p of [b.source, b.target ?? '']) if (/[,:]/.test(p)) fail('--bind', `${p}: a path with ',' or ':' cannot be bound`);
  return {
    runtime: cfg.launch.container.runtime,
    loadModules: cfg.launch.container.loadModules,
    image,
    gpuImage: null,
    gpu: nv ? 'nv' : rocm ? 'rocm' : 'none',
    gpuWhen: 'always',
    home: null,
    noMount: [],
    extraBinds,
    extraArgs: [],
    cleanEnv: false,
    passEnv: [],
    overlay: false,
  };
}

function conda(args: Record<string, unknown>, cfg: HpcWrapConfig, cwd: string, cacheDir: string): EnvironmentSpec['conda'] {
  const env = str(args, 'conda-env');
  const init = str(args, 'conda-init');
  const pack = str(args, 'conda-pack');
  const yml = str(args, 'conda-yml');
  const mamba = bool(args, 'mamba');
  const cache = bool(args, 'cache');
  const scratch = str(args, 'scratch-dir');
  if (env === null && init === null && pack === null && yml === null) {
    if (mamba) fail('--mamba', 'only with --conda-yml');
    if (cache) fail('--cache', 'only with --conda-yml');
    return null;
  }
  if (env === null && pack === null && yml === null) fail('--conda-init', 'give --conda-env, --conda-pack or --conda-yml too');
  if (pack !== null && yml !== null) fail('--conda-yml', 'give either --conda-pack or --conda-yml');
  if (mamba && yml === null) fail('--mamba', 'only with --conda-yml');
  if (cache && yml === null) fail('--cache', 'only with --conda-yml');
  if (env !== null && env.startsWith('-')) fail('--conda-env', 'must not start with "-"');
  const spec = {
    env: env !== null && env.includes('/') ? absolutePath('--conda-env', env, cwd) : env,
    init: init === null ? null : absolutePath('--conda-init', init, cwd),
    pack: pack === null ? null : absolutePath('--conda-pack', pack, cwd),
    yml: yml === null ? null : absolutePath('--conda-yml', yml, cwd),
    useMamba: mamba,
    scratch: scratch === null ? cfg.launch.defaults.scratchDir : absolutePath('--scratch-dir', scratch, cwd),
    keepScratch: false,
    timeoutSeconds: 1800,
    ...(cache ? { cacheDir } : {}),
  };
  const parsed = condaSchema.safeParse(spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? 'env');
    fail(`--conda-${key === 'useMamba' ? 'yml' : key === 'scratch' ? 'scratch-dir' : key}`, issue.message);
  }
  return parsed.data!;
}

function modules(args: Record<string, unknown>, cfg: HpcWrapConfig, cwd: string): EnvironmentSpec['modules'] {
  const given = args['env-modules'] !== undefined;
  const load = given ? list(args['env-modules']) : cfg.launch.defaults.envModules;
  for (const m of load) if (!moduleName.safeParse(m).success) fail('--env-modules', `${JSON.stringify(m)} is not a module name such as gcc/12.2.0`);
  const modulePath = list(args['append-modulepath']).flatMap((p) => p.split(':')).filter(Boolean).map((p) => absolutePath('--append-modulepath', p, cwd));
  if (!load.length && !modulePath.length) return null;
  return modulesSchema.parse({ load, modulePath });
}

function environment(args: Record<string, unknown>, input: ResolveInput): ResolvedLaunch['environment'] {
  const { config: cfg, cwd } = input;
  const named = str(args, 'environment');
  if (named !== null) {
    const other = ENV_OPTIONS.find((o) => args[o] !== undefined && args[o] !== false);
    if (other) fail(`--${other}`, 'give either --environment or the software environment options');
    const spec = Object.hasOwn(cfg.environments, named) ? cfg.environments[named] : undefined;
    if (!spec) {
      const known = Object.keys(cfg.environments);
      fail('--environment', `"${named}" is not an environment of this site; known: ${known.length ? known.join(', ') : 'none'} (hpc-wrap.yaml environments)`);
    }
    return { name: named, spec: spec! };
  }
  const spec: EnvironmentSpec = {
    description: 'from the launch options',
    container: container(args, cfg, cwd),
    modules: modules(args, cfg, cwd),
    conda: conda(args, cfg, cwd, input.condaCacheDir),
  };
  if (!spec.container && !spec.modules && !spec.conda) return null;
  return { name: 'options', spec };
}

export function resolveLaunch(input: ResolveInput): ResolvedLaunch {
  const { args, config: cfg, cwd, home } = input;
  const keepAlive = int(args, 'keep-alive', 0, 100) ?? 0;
  const r = resources(args, cfg);
  checkLimits(r, keepAlive, cfg);
  const iface = (str(args, 'jupyter') ?? cfg.launch.defaults.jupyter) as JupyterInterface;
  if (!['lab', 'notebook', 'voila'].includes(iface)) fail('--jupyter', `${JSON.stringify(iface)} is not lab, notebook or voila`);
  const dir = str(args, 'notebook-dir');
  const notebookDir = dir === null ? home : absolutePath('--notebook-dir', dir, cwd);
  if (bool(args, 'quiet') && bool(args, 'json')) fail('--json', 'give either --json or --quiet');
  const timeout = args['checklist-timeout'] === undefined ? cfg.launch.checklistTimeoutSeconds : Number(args['checklist-timeout']);
  if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 600) fail('--checklist-timeout', `${JSON.stringify(args['checklist-timeout'])} is not a number of seconds (up to 600)`);
  return {
    resources: r,
    interface: iface,
    notebookDir,
    environment: environment(args, input),
    keepAlive,
    checklist: { enabled: !bool(args, 'disable-checklist'), timeoutSeconds: timeout },
    output: bool(args, 'json') ? 'json' : bool(args, 'quiet') ? 'quiet' : 'normal',
  };
}
