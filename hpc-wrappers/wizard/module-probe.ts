// What the wizard learns from Lmod on this login node, with the Lmod command start-env uses
// on the node (no shell): whether Lmod runs at all and what `module avail` lists
// (`<lmod> bash -t avail`, once: ~0.1 s), shown before the modules question; each module
// answered asked once (`<lmod> bash is-avail NAME`, exit status only), a missing one named
// with the versions Lmod does have; and the MODULEPATH directories that hold the answered
// modules, which the wizard writes as modules.modulePath because a job started over SSH
// does not get the login shell's MODULEPATH. A module Lmod cannot find here is a doubt the
// operator may overrule (compute nodes can have another module tree). `hpc-wrap doctor`
// asks the same of each environment's modules, with a job's MODULEPATH (doctor-modules.ts).
import { execFile } from 'node:child_process';
import { lmodArgv } from '../start-env/modules-step.js';

type Outcome = 'available' | 'missing' | { error: string };

/** One module `avail` lists, and the MODULEPATH directory it is in. */
export interface AvailModule {
  dir: string;
  /** e.g. python/3.11; a family (a directory of versions) ends with "/": python/ */
  name: string;
}

function runLmod(lmod: string[], args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ error: Outcome | null; stderr: string }> {
  const [program, ...rest] = lmod;
  return new Promise((resolve) => {
    execFile(program!, [...rest, 'bash', ...args], { env, timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (!err) return resolve({ error: null, stderr: String(stderr) });
      const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean };
      if (typeof e.code === 'string') return resolve({ error: { error: `${program} cannot be run: ${e.code}` }, stderr: '' });
      if (e.killed) return resolve({ error: { error: `${program} did not answer within ${timeoutMs / 1000} s` }, stderr: '' });
      resolve({ error: 'missing', stderr: String(stderr) });
    });
  });
}

async function isAvail(lmod: string[], name: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Outcome> {
  return (await runLmod(lmod, ['is-avail', name], env, timeoutMs)).error ?? 'available';
}

/** Lmod's terse listing (stderr): "DIR:" lines, then that directory's modules, families ending with "/". */
export function parseTerseAvail(text: string): AvailModule[] {
  const out: AvailModule[] = [];
  let dir: string | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('/') && line.endsWith(':')) dir = line.slice(0, -1);
    else if (dir) out.push({ dir, name: line.replace(/\(.*\)$/, '') });
  }
  return out;
}

const listed = new Map<string, Promise<AvailModule[] | { error: string }>>();

/** What `module avail` lists with this environment's MODULEPATH (asked once per MODULEPATH), or why Lmod could not be asked. */
export function availModules(env: NodeJS.ProcessEnv = process.env, timeoutMs = 20_000): Promise<AvailModule[] | { error: string }> {
  const lmod = lmodArgv({ lmodCommand: null }, env);
  const key = JSON.stringify([lmod, env.MODULEPATH ?? '']);
  let p = listed.get(key);
  if (!p) {
    p = runLmod(lmod, ['-t', 'avail'], env, timeoutMs).then((r) => (typeof r.error === 'object' && r.error !== null ? r.error : parseTerseAvail(r.stderr)));
    listed.set(key, p);
  }
  return p;
}

const family = (name: string) => name.split('/')[0]!;
const versions = (mods: AvailModule[]) => [...new Set(mods.filter((m) => !m.name.endsWith('/')).map((m) => m.name))];

/** Shown before the modules question: whether Lmod runs here and a few of the modules it has. */
export async function modulesHint(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const avail = await availModules(env);
  if ('error' in avail) return `Lmod cannot be asked here (${avail.error}): module names cannot be checked (install Lmod, e.g. Debian's lmod package, or set LMOD_CMD)`;
  const names = versions(avail);
  if (!names.length) return `Lmod finds no modules here (MODULEPATH: ${env.MODULEPATH || 'not set'}; a login shell sets it)`;
  const shown = names.slice(0, 8).join(', ');
  return `Lmod finds ${names.length} module(s) here: ${shown}${names.length > 8 ? ', … ("module avail" lists them all)' : ''}`;
}

/** The modules Lmod (`lmod` argv) does not find with `env`'s MODULEPATH, or why it could not be asked. */
export async function missingModules(lmod: readonly string[], names: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<string[] | { error: string }> {
  const missing: string[] = [];
  for (const name of names) {
    const r = await isAvail([...lmod], name, env, timeoutMs);
    if (typeof r === 'object') return r;
    if (r === 'missing') missing.push(name);
  }
  return missing;
}

/** null when Lmod finds every module here, else what it could not find (and what it has of that name), or why it could not be asked. */
export async function moduleDoubt(names: readonly string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 20_000): Promise<string | null> {
  if (!names.length) return null;
  const missing = await missingModules(lmodArgv({ lmodCommand: null }, env), names, env, timeoutMs);
  if ('error' in missing) return `the modules could not be checked: ${missing.error} (install Lmod, e.g. Debian's lmod package, or set LMOD_CMD)`;
  if (!missing.length) return null;
  const avail = await availModules(env, timeoutMs);
  const near = 'error' in avail ? [] : versions(avail.filter((m) => missing.some((n) => family(m.name) === family(n))));
  const has = near.length ? `; it has ${near.slice(0, 8).join(', ')}` : '';
  return `Lmod does not find ${missing.join(', ')} here (MODULEPATH: ${env.MODULEPATH || 'not set'})${has}; check the name with "module avail"`;
}

/**
 * The MODULEPATH directories (in MODULEPATH's order) that hold the modules named: a module
 * "python/3.11" is the entry python/3.11, a bare "python" its family python/. Empty when
 * none is listed (e.g. Lmod cannot be asked, or the operator kept a module it does not find).
 */
export async function moduleDirs(names: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  if (!names.length) return [];
  const avail = await availModules(env);
  if ('error' in avail) return [];
  const holds = (m: AvailModule) => names.some((n) => m.name === n || m.name === `${n}/`);
  return [...new Set(avail.filter(holds).map((m) => m.dir))];
}
