// The checks behind the wizard's answers. Each returns the parsed value or throws a
// CheckFailed whose message says what is wrong and what to give instead; the interactive
// wizard shows it and asks again, the non-interactive one exits 2 with it.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { delimiter, dirname, join, resolve } from 'node:path';
import { isImageUri } from '../../config/schema-container.js';
import { writableOrCreatable } from '../../config/writable-path.js';

export class CheckFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckFailed';
  }
}

const fail = (message: string): never => {
  throw new CheckFailed(message);
};

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `which` without a shell: the first executable `name` on PATH, or `name` itself when it is a path. */
export function findOnPath(name: string, path = process.env.PATH ?? ''): string | null {
  if (name.includes('/')) return isExecutableFile(resolve(name)) ? resolve(name) : null;
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

// sbin directories are often missing from an operator's PATH (mkfs.ext3 lives there).
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/**
 * A command line typed as words separated by spaces into an argv array. Not a shell: quotes,
 * variables, pipes and redirections are refused with a reason rather than half-understood.
 */
export function parseArgv(text: string, what: string): string[] {
  const trimmed = text.trim();
  if (!trimmed) fail(`${what} must not be empty: give the program and its fixed arguments, e.g. "sbatch --parsable"`);
  const bad = /["'`$|;&<>\\(){}*?]/.exec(trimmed);
  if (bad) {
    fail(`${what}: "${bad[0]}" is shell syntax, but this command runs without a shell: give only the program and its arguments separated by spaces`);
  }
  return trimmed.split(/\s+/);
}

/** An argv whose program can be found (on PATH, or as an executable path). */
export function checkCommand(text: string, what: string, path = process.env.PATH): string[] {
  const argv = parseArgv(text, what);
  const program = argv[0]!;
  if (findOnPath(program, path)) return argv;
  if (!program.includes('/')) {
    const inSbin = SBIN_DIRS.map((d) => join(d, program)).find(isExecutableFile);
    if (inSbin) fail(`${program} is not on PATH, but ${inSbin} exists: give the full path ${inSbin}`);
    fail(`${program} was not found on PATH: install it (or load its module), or give its full path`);
  }
  fail(`${program} does not exist or is not executable`);
  return argv;
}

/** An absolute path (relative answers are taken from `cwd`) that exists or can be created. */
export function checkCreatableDir(text: string, what: string, cwd = process.cwd()): string {
  const trimmed = text.trim();
  if (!trimmed) fail(`${what} must not be empty`);
  if (/[\0\n\r]/.test(trimmed)) fail(`${what} must not contain NUL or line breaks`);
  const p = resolve(cwd, trimmed);
  if (existsSync(p) && !statSync(p).isDirectory()) fail(`${p} exists and is not a directory`);
  notUnderAFile(p);
  const { ok, checked, error } = writableOrCreatable(p);
  if (!ok) fail(`${p} cannot be created or written: ${checked} is not writable by this account (${error ?? 'permission denied'})`);
  return p;
}

/** Refuses a path whose nearest existing ancestor is not a directory (even root cannot create it). */
function notUnderAFile(p: string): void {
  let a = dirname(p);
  while (!existsSync(a) && dirname(a) !== a) a = dirname(a);
  if (!statSync(a).isDirectory()) fail(`${p} cannot be created: ${a} is a file, not a directory`);
}

/** A file path (made absolute) that can be created: its directory exists or can be made. */
export function checkCreatableFile(text: string, what: string, cwd = process.cwd()): string {
  const p = resolve(cwd, text.trim());
  if (!text.trim()) fail(`${what} must not be empty`);
  if (existsSync(p) && statSync(p).isDirectory()) fail(`${p} is a directory; give a file name`);
  notUnderAFile(p);
  const { ok, checked, error } = writableOrCreatable(p);
  if (!ok) fail(`${p} cannot be created: ${checked} is not writable by this account (${error ?? 'permission denied'})`);
  return p;
}

/** A container image: an existing file (made absolute) or a URI the runtime pulls. */
export function checkImage(text: string, what: string, cwd = process.cwd()): string {
  const t = text.trim();
  if (!t) fail(`${what} must not be empty: give a .sif file or a URI such as docker://jupyter/base-notebook`);
  if (isImageUri(t)) return t;
  if (t.startsWith('-')) fail(`${what} must not start with "-"`);
  const p = resolve(cwd, t);
  if (!existsSync(p)) fail(`${p} does not exist: give an existing .sif file or a URI (docker://, library://, oras://)`);
  if (!statSync(p).isFile()) fail(`${p} is not a file`);
  return p;
}

/** A TCP port number in [min, 65535]. */
export function checkPort(text: string, what: string, min = 1): number {
  const t = text.trim();
  if (!/^\d+$/.test(t)) fail(`${what} must be a number from ${min} to 65535, not "${t}"`);
  const n = Number(t);
  if (n < min || n > 65535) {
    fail(min > 1 ? `${what} must be from ${min} to 65535 (ports up to ${min - 1} need root), not ${n}` : `${what} must be from 1 to 65535, not ${n}`);
  }
  return n;
}

export function checkInteger(text: string, what: string, min: number, max: number): number {
  const t = text.trim();
  if (!/^\d+$/.test(t) || Number(t) < min || Number(t) > max) fail(`${what} must be a whole number from ${min} to ${max}, not "${t}"`);
  return Number(t);
}

export function checkHttpUrl(text: string, what: string): URL {
  let u: URL;
  try {
    u = new URL(text.trim());
  } catch {
    return fail(`${what} is not a URL: give http(s)://host:port/hub/api`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') fail(`${what} must start with http:// or https://`);
  if (u.username || u.password) fail(`${what} must not contain user:password@ (credentials never go into URLs)`);
  if (u.search || u.hash) fail(`${what} must not have a ?query or #fragment`);
  return u;
}

export const isLoopback = (host: string): boolean => host === 'localhost' || host === '[::1]' || /^127\./.test(host);

/** null when `url` answers an HTTP GET within `timeoutMs` (any status), else why not. */
export async function probeHttp(url: string, timeoutMs = 5000): Promise<string | null> {
  try {
    const res = await fetch(url, { method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return null;
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError') return `no answer from ${url} within ${timeoutMs / 1000} s`;
    return `${url} is not reachable from this machine: ${e.cause?.code ?? e.cause?.message ?? e.message}`;
  }
}

/** null when `host` resolves (the old wizard pinged the hub), else why not. */
export async function probeHost(host: string): Promise<string | null> {
  try {
    await lookup(host);
    return null;
  } catch (err) {
    return `${host} does not resolve from this machine: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
}
