// The head of the release bundle dist/hpc-wrap.mjs (scripts/hpc-wrap-bundle.mjs). Every
// hpc-wrap call — start-env in every job, each one-shot command — would otherwise make V8
// parse the whole ~2 MB bundle before its first line runs, the largest part of its start-up
// CPU. So the program (cli-main.ts, bundled as one CommonJS function) travels in a comment
// at the end of this same file, and this head compiles it with a V8 code cache:
//   - the source is this file's own text, never anything given at run time (it is what
//     Node's own CommonJS loader does with a file: vm compiles a function wrapper);
//   - the cache is the user's own: $XDG_CACHE_HOME/hpc-wrap (default ~/.cache/hpc-wrap),
//     a directory of mode 0700 owned by the user, files of mode 0600; anything else there
//     (another owner, wider modes, a symlink) and the cache is neither read nor written;
//   - its name carries the SHA-256 of the program (computed by the build), the program's
//     length and V8's cache tag (V8 version and flags), so another bundle or Node never
//     reads it; V8 checks it again (source length, version, flags) and rejects a mismatch;
//   - a missing, unreadable, rejected or corrupt cache only means a normal compile (then a
//     fresh cache is written, atomically); HPC_WRAP_CODE_CACHE=off skips the cache.
// This module: finding, checking, reading and writing the cache; code-cache-loader.ts runs it.
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { cachedDataVersionTag } from 'node:v8';

/** Starts the comment that holds the program (written by scripts/hpc-wrap-bundle.mjs). */
export const BODY_MARKER = '\n/*hpc-wrap-program\n';
/** `*` `/` inside the program is written as `*` \x01 `/` so that the comment holds it. */
export const ESCAPED_END = '*\x01/';

const CACHE_PREFIX = 'code-';

export interface CacheLocation {
  dir: string;
  file: string;
}

/**
 * Where this program's cache lives for this user, or null: no home, or switched off.
 * `programHash` is the SHA-256 the build computed of the program; the size of the text
 * read is checked as well (a damaged copy never gets another file's cache). `kind`: one
 * cache per kind of call (start-env, agent, the bridge's one-shot commands, the rest), as
 * each holds the functions its first call compiled.
 */
export function cacheLocation(programHash: string, programLength: number, kind: string, env: NodeJS.ProcessEnv = process.env): CacheLocation | null {
  if (env.HPC_WRAP_CODE_CACHE === 'off' || !/^[0-9a-f]{64}$/.test(programHash) || !/^[a-z-]+$/.test(kind)) return null;
  const base = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : env.HOME && isAbsolute(env.HOME) ? join(env.HOME, '.cache') : null;
  if (!base) return null;
  const dir = join(base, 'hpc-wrap');
  return { dir, file: join(dir, `${CACHE_PREFIX}${kind}-${programHash.slice(0, 32)}-${programLength}-${cachedDataVersionTag()}-${process.arch}.v8cache`) };
}

const euid = () => process.geteuid?.() ?? -1;

/** The directory is ours alone: a real directory (not a symlink), owned by us, mode 0700 or narrower. */
function privateDir(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === euid() && (st.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

/** The cache's bytes, or undefined when there is none we may trust. */
export function readCache(loc: CacheLocation): Buffer | undefined {
  if (!privateDir(loc.dir)) return undefined;
  let fd: number | undefined;
  try {
    fd = openSync(loc.file, constants.O_RDONLY | constants.O_NOFOLLOW);
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== euid() || (st.mode & 0o077) !== 0 || st.size > 256 * 1024 * 1024) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes the cache atomically (a private temp file renamed over it) and drops caches of other versions. Never throws. */
export function writeCache(loc: CacheLocation, data: Buffer): void {
  try {
    mkdirSync(loc.dir, { recursive: true, mode: 0o700 });
    if (!privateDir(loc.dir)) return;
    // (nodes sharing a home may reuse a pid)
    const tmp = `${loc.file}.${hostname()}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
      renameSync(tmp, loc.file);
    } catch (err) {
      rmSync(tmp, { force: true }); // e.g. a full quota: leave no partial file behind
      throw err;
    }
    // Caches of other versions go once unused for a day (two versions in use at once, e.g.
    // during an upgrade, keep theirs); a temp file a killed writer left, after an hour.
    const own = loc.file.slice(loc.dir.length + 1);
    const now = Date.now();
    for (const name of readdirSync(loc.dir)) {
      if (!name.startsWith(CACHE_PREFIX) || name === own) continue;
      const path = join(loc.dir, name);
      const age = now - statSync(path).atimeMs;
      if (age > (name.endsWith('.tmp') ? 3600_000 : 86_400_000)) rmSync(path, { force: true });
    }
  } catch {
    // a cache that cannot be written costs the next call a compile, nothing more
  }
}

/** The program: the text of the comment at the end of `selfText`, unescaped. */
export function programText(selfText: string): string {
  const at = selfText.lastIndexOf(BODY_MARKER);
  // the program's own `*/` are escaped: the first one after the marker ends it (the job
  // launcher's text follows in a comment of its own: scripts/hpc-wrap-bundle.mjs)
  const end = selfText.indexOf('*/', at);
  if (at < 0 || end < at) throw new Error('hpc-wrap: this file has no program after its loader (a damaged or partial copy?); install it again');
  return selfText.slice(at + BODY_MARKER.length, end).replaceAll(ESCAPED_END, '*/');
}
