// The conda step (galyleo's --conda-env / --conda-init / --conda-pack / --conda-yml /
// --mamba / --scratch-dir): activate an existing env, a conda-pack tarball unpacked on
// node-local scratch, or an environment.yml created there at start. conda never runs
// through a shell: `conda shell.posix activate` is read as data (conda-activation.ts).
// The per-job scratch directory is <scratch>/hpc-wrap-<session id> (0700), removed at
// teardown unless keepScratch.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import type { CondaSpec } from '../../config/schema-software.js';
import { envDisplayName, findCondaProgram, parsePosixActivate, prefixActivation, type CondaActivation } from './conda-activation.js';
import { unpackCondaPack } from './conda-pack.js';
import { applyEnvChanges, helperEnv } from './env-changes.js';
import { helperFailure, helperMessage, runHelper, succeeded } from './helper-process.js';
import { inEnvironment, type EnvironmentContext, type EnvironmentStep } from './steps.js';

function mustExist(key: string, path: string, kind: 'file' | 'directory' | 'any'): void {
  if (!existsSync(path)) throw new Error(`${key}: ${path} does not exist`);
  const st = statSync(path);
  if (kind === 'file' && !st.isFile()) throw new Error(`${key}: ${path} is not a file`);
  if (kind === 'directory' && !st.isDirectory()) throw new Error(`${key}: ${path} is not a directory`);
}

/** Reads an environment.yml as data; a broken one fails before anything is created. */
export function checkEnvironmentYml(file: string): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`conda.yml: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const doc = parseDocument(text);
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const where = e.linePos?.[0] ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
    const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new Error(`conda.yml: ${file} is not valid YAML${where}: ${what}`);
  }
  const y: unknown = doc.toJS();
  if (y === null || typeof y !== 'object' || Array.isArray(y)) throw new Error(`conda.yml: ${file} is not an environment file (a mapping with dependencies)`);
  const deps = (y as Record<string, unknown>).dependencies;
  if (!Array.isArray(deps)) throw new Error(`conda.yml: ${file} has no dependencies list`);
  const bad = deps.findIndex((d) => typeof d !== 'string' && !(d && typeof d === 'object' && !Array.isArray(d)));
  if (bad >= 0) throw new Error(`conda.yml: ${file}: dependencies[${bad}] is neither a package spec nor a pip: list`);
}

type CondaContext = Pick<EnvironmentContext, 'env' | 'hubEnv' | 'say' | 'job'>;

/** Checks of the configured files (pre-flight, before any step does slow work). */
export function checkCondaFiles(spec: CondaSpec): void {
  if (spec.init !== null) {
    mustExist('conda.init', spec.init, 'any');
    if (findCondaProgram('conda', spec.init, {}) === null && !(spec.useMamba && findCondaProgram('mamba', spec.init, {}))) {
      throw new Error(`conda.init: no bin/conda under ${spec.init.replace(/\/etc\/profile\.d\/conda\.sh$/, '')}`);
    }
  }
  if (spec.pack !== null) mustExist('conda.pack', spec.pack, 'file');
  if (spec.yml !== null) {
    mustExist('conda.yml', spec.yml, 'file');
    checkEnvironmentYml(spec.yml);
  }
  if (spec.scratch !== null && (spec.pack !== null || spec.yml !== null)) mustExist('conda.scratch', spec.scratch, 'directory');
  if (spec.env !== null && spec.env.includes('/') && spec.pack === null && spec.yml === null) mustExist('conda.env', spec.env, 'directory');
}

/** conda (or mamba) must exist where the configuration needs it; checked after modules are loaded. */
function checkCondaProgram(spec: CondaSpec, base: Record<string, string>): void {
  const program = spec.useMamba ? 'mamba' : 'conda';
  if (spec.yml !== null && !findCondaProgram(program, spec.init, base)) {
    throw new Error(`conda.yml: creating the environment needs ${program}: set conda.init or put ${program} on the job's PATH (e.g. with modules.load)`);
  }
  if (spec.env !== null && spec.pack === null && spec.yml === null && !spec.env.includes('/') && !findCondaProgram('conda', spec.init, base)) {
    throw new Error(`conda.env: activating the environment '${spec.env}' by name needs conda: set conda.init, put conda on the job's PATH, or give the env's path`);
  }
}

function jobScratchDir(spec: CondaSpec, sessionId: string): string {
  const root = spec.scratch ?? (process.env.TMPDIR?.startsWith('/') ? process.env.TMPDIR : '/tmp');
  const dir = join(root, `hpc-wrap-${sessionId}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    throw new Error(`conda.scratch: cannot make ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  chmodSync(dir, 0o700);
  return dir;
}

async function condaActivate(ctx: CondaContext, conda: string, target: string, key: string, timeoutMs: number): Promise<CondaActivation> {
  const r = await runHelper([conda, 'shell.posix', 'activate', target], { env: helperEnv(ctx), timeoutMs });
  if (!succeeded(r)) {
    const detail = helperMessage(r);
    throw new Error(`${key}: conda could not activate '${target}': ${helperFailure(conda, r, timeoutMs)}${detail ? `: ${detail}` : ''}`);
  }
  try {
    return parsePosixActivate(r.stdout);
  } catch (err) {
    throw new Error(`${key}: cannot read the output of \`conda shell.posix activate\` (${(err as Error).message})`);
  }
}

async function createFromYml(ctx: CondaContext, spec: CondaSpec, scratchDir: string, timeoutMs: number): Promise<string> {
  const program = spec.useMamba ? 'mamba' : 'conda';
  const exe = findCondaProgram(program, spec.init, helperEnv(ctx))!;
  const prefix = join(scratchDir, 'env');
  ctx.say(`creating the conda environment of ${spec.yml} in ${prefix} with ${program}`);
  const r = await runHelper([exe, 'env', 'create', '--prefix', prefix, '--file', spec.yml!], {
    env: helperEnv(ctx),
    timeoutMs,
    onLine: (l) => l.trim() && ctx.say(`${program}: ${l.trimEnd()}`),
  });
  if (!succeeded(r)) {
    const detail = helperMessage(r, 4);
    throw new Error(`conda.yml: \`${program} env create\` failed: ${helperFailure(program, r, timeoutMs)}${detail ? `: ${detail}` : ''}`);
  }
  return prefix;
}

/** The --cache tarball of a yml: keyed by the yml's content and the tool that creates it. */
export function cachedPack(spec: CondaSpec): string {
  const key = createHash('sha256').update(readFileSync(spec.yml!)).update(spec.useMamba ? '\0mamba' : '\0conda').digest('hex').slice(0, 32);
  return join(spec.cacheDir!, `${key}.tar.gz`);
}

/**
 * Packs a freshly created environment into the cache with conda-pack (the env's own
 * `conda-pack`, else `conda pack`). A failure only means no cache: the session goes on.
 */
async function packIntoCache(ctx: CondaContext, spec: CondaSpec, prefix: string, conda: string | null, timeoutMs: number): Promise<void> {
  const target = cachedPack(spec);
  const own = join(prefix, 'bin', 'conda-pack');
  const argv = existsSync(own) ? [own] : conda ? [conda, 'pack'] : null;
  if (!argv) {
    ctx.say('conda.cacheDir: no conda-pack (in the environment) and no conda to run `conda pack`: the environment is not cached');
    return;
  }
  mkdirSync(spec.cacheDir!, { recursive: true, mode: 0o700 });
  const tmp = `${target}.${process.pid}.tmp`;
  ctx.say(`caching the environment as ${target}`);
  const r = await runHelper([...argv, '--prefix', prefix, '--output', tmp, '--quiet'], { env: helperEnv(ctx), timeoutMs });
  if (!succeeded(r)) {
    rmSync(tmp, { force: true });
    ctx.say(`conda.cacheDir: conda-pack failed (${helperFailure('conda-pack', r, timeoutMs)}${helperMessage(r) ? `: ${helperMessage(r)}` : ''}); not cached`);
    return;
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, target);
}

async function activation(ctx: CondaContext, spec: CondaSpec, scratch: () => string): Promise<{ act: CondaActivation; what: string }> {
  const timeoutMs = spec.timeoutSeconds * 1000;
  const conda = findCondaProgram('conda', spec.init, helperEnv(ctx));
  if (spec.pack !== null) {
    const prefix = await unpackCondaPack({ tarball: spec.pack, scratchDir: scratch(), env: helperEnv(ctx), timeoutMs, say: ctx.say });
    return { act: prefixActivation(prefix, spec.env ?? envDisplayName(spec.pack), helperEnv(ctx)), what: prefix };
  }
  if (spec.yml !== null && spec.cacheDir) {
    const cached = cachedPack(spec);
    if (existsSync(cached)) {
      ctx.say(`using the cached environment of ${spec.yml}: ${cached}`);
      const prefix = await unpackCondaPack({ tarball: cached, scratchDir: scratch(), env: helperEnv(ctx), timeoutMs, say: ctx.say });
      return { act: prefixActivation(prefix, spec.env ?? 'env', helperEnv(ctx)), what: prefix };
    }
  }
  if (spec.yml !== null) {
    const prefix = await createFromYml(ctx, spec, scratch(), timeoutMs);
    if (spec.cacheDir) await packIntoCache(ctx, spec, prefix, conda, timeoutMs);
    if (conda) return { act: await condaActivate(ctx, conda, prefix, 'conda.yml', 60_000), what: prefix };
    return { act: prefixActivation(prefix, spec.env ?? 'env', helperEnv(ctx)), what: prefix };
  }
  const env = spec.env!;
  if (conda) return { act: await condaActivate(ctx, conda, env, 'conda.env', 60_000), what: env };
  return { act: prefixActivation(env, envDisplayName(env), helperEnv(ctx)), what: env };
}

const scratchDirs = new WeakMap<object, { dir: string; keep: boolean }>();

export const condaStep: EnvironmentStep = {
  name: 'conda',
  check(ctx) {
    const spec = ctx.job.environment?.spec.conda;
    if (!spec) return;
    try {
      checkCondaFiles(spec);
    } catch (err) {
      throw new Error(`${(err as Error).message}${inEnvironment(ctx)}`);
    }
  },
  async prepare(ctx) {
    const spec = ctx.job.environment?.spec.conda;
    if (!spec) return;
    checkCondaProgram(spec, helperEnv(ctx));
    const scratch = () => {
      const made = scratchDirs.get(ctx);
      if (made) return made.dir;
      const dir = jobScratchDir(spec, ctx.job.sessionId);
      scratchDirs.set(ctx, { dir, keep: spec.keepScratch });
      return dir;
    };
    try {
      const base = helperEnv(ctx);
      const { act, what } = await activation(ctx, spec, scratch);
      const refused = applyEnvChanges(ctx, base, act.changes);
      if (refused.length) ctx.say(`conda: ignored changes of ${refused.join(', ')} (reserved for the hub and hpc-wrap, or holding NUL)`);
      if (act.scripts.length) ctx.say(`conda: not run (they need a shell): ${act.scripts.join(', ')}`);
      ctx.say(`activated the conda environment ${what}`);
    } catch (err) {
      removeScratch(ctx);
      throw err;
    }
  },
  async teardown(ctx) {
    removeScratch(ctx);
  },
};

function removeScratch(ctx: CondaContext): void {
  const made = scratchDirs.get(ctx);
  if (!made) return;
  scratchDirs.delete(ctx);
  if (made.keep) {
    ctx.say(`kept the scratch directory ${made.dir} (conda.keepScratch)`);
    return;
  }
  rmSync(made.dir, { recursive: true, force: true });
}
