// A conda-pack tarball on node-local scratch: unpack it (npm tar: no `tar` program, no
// shell, no absolute or `..` paths, no device files, owners not restored), then run its
// bin/conda-unpack once, as conda-pack's docs say, to rewrite the packed prefix into the
// new location. conda-pack archives the prefix's content at the archive root.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { extract } from 'tar';
import { helperFailure, helperMessage, runHelper, succeeded } from './helper-process.js';

const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);

/** A stable directory name for one tarball: its real path, size and modification time. */
export function packDirName(tarball: string): string {
  const st = statSync(tarball);
  const id = `${realpathSync(tarball)}\0${st.size}\0${st.mtimeMs}`;
  return `conda-${createHash('sha256').update(id).digest('hex').slice(0, 16)}`;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export interface UnpackOptions {
  tarball: string;
  /** The per-job scratch directory (exists, 0700). */
  scratchDir: string;
  /** The helper env for conda-unpack (no hub variables). */
  env: Record<string, string>;
  timeoutMs: number;
  say(line: string): void;
}

/** Unpacks into <scratchDir>/conda-<hash>, runs conda-unpack, returns the prefix. Messages name conda.pack. */
export async function unpackCondaPack(o: UnpackOptions): Promise<string> {
  const prefix = join(o.scratchDir, packDirName(o.tarball));
  mkdirSync(prefix, { mode: 0o700 });
  const skipped: string[] = [];
  const started = Date.now();
  try {
    await withTimeout(
      extract({
        file: o.tarball,
        cwd: prefix,
        strict: true,
        preserveOwner: false,
        filter: (path, entry) => {
          const type = 'type' in entry ? String(entry.type) : 'File';
          if (ALLOWED_TYPES.has(type)) return true;
          skipped.push(path);
          return false;
        },
      }),
      o.timeoutMs,
      'unpacking',
    );
  } catch (err) {
    throw new Error(`conda.pack: cannot unpack ${o.tarball}: ${(err as Error).message}`);
  }
  if (skipped.length) o.say(`conda.pack: skipped ${skipped.length} special file(s) in the tarball (devices, FIFOs)`);
  o.say(`unpacked ${o.tarball} into ${prefix} in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const unpack = join(prefix, 'bin', 'conda-unpack');
  if (!existsSync(unpack)) throw new Error(`conda.pack: ${o.tarball} has no bin/conda-unpack (was it made by conda-pack?)`);
  // conda-unpack is a script of the env (#!/usr/bin/env python): the env's bin comes first.
  const env = { ...o.env, PATH: o.env.PATH ? `${join(prefix, 'bin')}:${o.env.PATH}` : join(prefix, 'bin'), CONDA_PREFIX: prefix };
  const r = await runHelper([unpack], { env, cwd: prefix, timeoutMs: o.timeoutMs });
  if (!succeeded(r)) {
    const detail = helperMessage(r);
    throw new Error(`conda.pack: ${helperFailure('bin/conda-unpack', r, o.timeoutMs)}${detail ? `: ${detail}` : ''}`);
  }
  return prefix;
}
