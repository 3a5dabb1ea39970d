// `hpc-bridge deploy`, the part that does not care how files reach the cluster: upload a
// version directory under a temporary name, verify it, rename it into place, then switch
// the `current` symlink with one atomic rename and prune old versions.
//
//   <dest>/versions/<version>-<sha256 prefix>[-cfg-<config sha256 prefix>]/{hpc-wrap.mjs, hpc-wrap.yaml, VERSION}
//   <dest>/current -> versions/<name>
//
// A reader of <dest>/current/hpc-wrap.mjs sees the old or the new file, never a missing or
// partial one: files are complete and flushed before their directory gets its final
// name, and `current` is replaced by rename(2), never removed and re-created.
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { DeployFs } from './deploy-fs.js';
import {
  BUNDLE_FILE, CONFIG_FILE, DeployError, sha256, versionDirName, versionFiles, type Artifact, type Bundle, type HpcConfigFile,
} from './deploy-artifacts.js';

export interface DeployRequest {
  /** Absolute directory on the cluster side (validateDest). */
  dest: string;
  bundle: Bundle;
  /** --config-file; null = keep the current version's hpc-wrap.yaml, if it has one. */
  config: HpcConfigFile | null;
  /** Versions to keep, the current one included (>= 1). */
  keep: number;
  dryRun: boolean;
}

export interface DeployDeps {
  fs: DeployFs;
  /** Runs `<bundlePath> --version` on the cluster as the bridge runs hpc-wrap; resolves what it printed. */
  remoteVersion(bundlePath: string): Promise<string>;
  out(line: string): void;
  random?: () => string;
}

export interface DeployOutcome {
  version: string;
  name: string;
  versionDir: string;
  /** <dest>/current/hpc-wrap.mjs: what cluster.hpcWrap should run. */
  currentBundle: string;
  /** <dest>/current/hpc-wrap.yaml when the deployed version has one. */
  currentConfig: string | null;
  /** Where `current` pointed before (its link text), null on a first deploy. */
  previous: string | null;
  configFrom: 'given' | 'kept' | 'none';
  uploaded: boolean;
  switched: boolean;
  removed: string[];
  dryRun: boolean;
}

const VERSION_DIR_RE = /^[0-9A-Za-z][0-9A-Za-z.+_-]*-[0-9a-f]{12}(?:-cfg-[0-9a-f]{8})?$/;
/** A `.tmp-*` upload older than this is a leftover of an interrupted deploy. */
const STALE_TMP_MS = 60 * 60 * 1000;

/** The deploy directory must be an absolute, normalised path other than `/`. */
export function validateDest(dest: string): string {
  const ok = dest.startsWith('/') && dest !== '/' && posix.normalize(dest) === dest && !dest.endsWith('/') && !/[\0\n\r]/.test(dest);
  if (!ok) throw new DeployError(`--dest ${JSON.stringify(dest)} must be an absolute, normalised directory path other than / (e.g. /opt/hpc-wrap)`);
  return dest;
}

/** `current`'s link text and the version directory it names (null when it names none of ours). */
async function readCurrent(fs: DeployFs, link: string): Promise<{ target: string; name: string | null } | null> {
  const st = await fs.lstat(link);
  if (st === null) return null;
  if (st.kind !== 'symlink') {
    throw new DeployError(
      `${link} (${fs.description}) exists and is not a symbolic link; deploy switches versions by replacing a symlink there. ` +
        `Move it away (mv ${link} ${link}.old) and deploy again.`,
    );
  }
  const target = await fs.readlink(link);
  const dest = posix.dirname(link);
  const m = /^versions\/([^/]+)$/.exec(posix.relative(dest, posix.resolve(dest, target)));
  return { target, name: m && VERSION_DIR_RE.test(m[1]!) ? m[1]! : null };
}

async function readIfThere(fs: DeployFs, path: string): Promise<Buffer | null> {
  return (await fs.lstat(path))?.kind === 'file' ? fs.readFile(path) : null;
}

export async function deployHpcWrap(req: DeployRequest, deps: DeployDeps): Promise<DeployOutcome> {
  const { fs, out } = deps;
  const dest = validateDest(req.dest);
  const dry = req.dryRun;
  const random = deps.random ?? (() => randomBytes(6).toString('hex'));
  const versions = posix.join(dest, 'versions');
  const currentLink = posix.join(dest, 'current');

  const current = await readCurrent(fs, currentLink);
  let config: Artifact | null = req.config;
  let configFrom: DeployOutcome['configFrom'] = config ? 'given' : 'none';
  if (!config && current?.name) {
    const kept = await readIfThere(fs, posix.join(versions, current.name, CONFIG_FILE));
    if (kept) {
      config = { bytes: kept, sha256: sha256(kept) };
      configFrom = 'kept';
      out(`keeping the hpc-wrap.yaml of the current version ${current.name} (give --config-file to replace it)`);
    }
  }
  const name = versionDirName(req.bundle, config);
  const versionDir = posix.join(versions, name);
  const files = versionFiles(req.bundle, config);

  /** null when `dir` holds exactly these files and its bundle reports the expected version there. */
  const verify = async (dir: string): Promise<string | null> => {
    for (const f of files) {
      const got = await readIfThere(fs, posix.join(dir, f.name));
      if (got === null) return `${f.name} is missing`;
      if (sha256(got) !== sha256(f.bytes)) return `${f.name} differs from what was sent (sha256 ${sha256(got).slice(0, 12)}…, expected ${sha256(f.bytes).slice(0, 12)}…)`;
    }
    const bundlePath = posix.join(dir, BUNDLE_FILE);
    let reported: string;
    try {
      reported = (await deps.remoteVersion(bundlePath)).trim();
    } catch (err) {
      return `running ${bundlePath} --version failed: ${(err as Error).message}`;
    }
    return reported === req.bundle.version ? null : `${bundlePath} --version printed ${JSON.stringify(reported.slice(0, 200))}, expected ${req.bundle.version}`;
  };

  if (!dry) await fs.mkdirp(versions, 0o755);
  else if ((await fs.lstat(versions)) === null) out(`would create ${versions}`);

  let uploaded = false;
  const existing = await fs.lstat(versionDir);
  let reuse = false;
  if (existing !== null) {
    const problem = dry ? null : existing.kind === 'dir' ? await verify(versionDir) : 'it is not a directory';
    if (problem === null) {
      reuse = true;
      out(`${versionDir} is already there${dry ? '' : ' and intact'}: nothing to upload`);
    } else if (current?.name === name) {
      throw new DeployError(
        `the current version ${versionDir} (${fs.description}) is damaged: ${problem}. Deploy another bundle first (current then points there), ` +
          `remove ${versionDir} by hand, and deploy this one again.`,
      );
    } else {
      out(`${versionDir} is damaged (${problem}): replacing it`);
      await fs.removeTree(versionDir);
    }
  }
  if (!reuse) {
    const tmp = posix.join(versions, `.tmp-${random()}`);
    const sizes = files.map((f) => `${f.name} (${f.bytes.length} bytes)`).join(', ');
    if (dry) out(`would upload ${sizes} to ${tmp}, check them, and rename it to ${versionDir}`);
    else {
      try {
        await fs.mkdir(tmp, 0o755);
        for (const f of files) await fs.writeFile(posix.join(tmp, f.name), f.bytes, f.mode);
        const problem = await verify(tmp);
        if (problem) throw new DeployError(`the upload to ${tmp} (${fs.description}) did not check out: ${problem}; current was not changed`);
        try {
          await fs.rename(tmp, versionDir);
          uploaded = true;
        } catch (err) {
          // another deploy of the same files may have renamed its copy into place first
          if ((await fs.lstat(versionDir)) === null || (await verify(versionDir)) !== null) throw err;
        }
      } finally {
        await fs.removeTree(tmp).catch(() => {});
      }
      out(
        uploaded
          ? `uploaded ${sizes} to ${versionDir} (${fs.description}); the checksums and \`hpc-wrap --version\` there check out`
          : `${versionDir} was put in place by another deploy meanwhile (same files)`,
      );
    }
  }

  const target = `versions/${name}`;
  let switched = false;
  if (current?.name === name) out(`${currentLink} already points at ${target}`);
  else if (dry) out(`would switch ${currentLink} -> ${target} atomically${current ? ` (now -> ${current.target})` : ''}`);
  else {
    const tmpLink = posix.join(dest, `.current-${random()}`);
    await fs.symlink(target, tmpLink);
    try {
      // rename(2) over the old link: there is no moment without a `current`
      if (current === null) await fs.rename(tmpLink, currentLink);
      else await fs.replace(tmpLink, currentLink);
    } catch (err) {
      await fs.removeTree(tmpLink).catch(() => {});
      throw err;
    }
    switched = true;
    out(`switched ${currentLink} -> ${target}${current ? ` (was -> ${current.target})` : ''}`);
  }
  if (!dry) await fs.touch(versionDir); // "most recently deployed" for --keep is the directory's mtime

  const removed = await prune(fs, versions, name, req.keep, dry, out);
  return {
    version: req.bundle.version,
    name,
    versionDir,
    currentBundle: posix.join(currentLink, BUNDLE_FILE),
    currentConfig: config ? posix.join(currentLink, CONFIG_FILE) : null,
    previous: current?.target ?? null,
    configFrom,
    uploaded,
    switched,
    removed,
    dryRun: dry,
  };
}

/** Removes all but the `keep` most recently deployed versions (never `current`) and stale uploads. */
async function prune(fs: DeployFs, versions: string, current: string, keep: number, dry: boolean, out: (line: string) => void): Promise<string[]> {
  if ((await fs.lstat(versions)) === null) return [];
  const others: { name: string; mtimeMs: number }[] = [];
  const doomed: string[] = [];
  for (const name of await fs.list(versions)) {
    const st = await fs.lstat(posix.join(versions, name));
    if (st === null || name === current) continue;
    if (name.startsWith('.tmp-')) {
      if (Date.now() - st.mtimeMs > STALE_TMP_MS) doomed.push(name);
    } else if (st.kind === 'dir' && VERSION_DIR_RE.test(name)) others.push({ name, mtimeMs: st.mtimeMs });
  }
  others.sort((a, b) => b.mtimeMs - a.mtimeMs || a.name.localeCompare(b.name));
  doomed.push(...others.slice(Math.max(0, keep - 1)).map((o) => o.name));
  for (const name of doomed) {
    const path = posix.join(versions, name);
    if (dry) out(`would remove ${path}`);
    else {
      await fs.removeTree(path);
      out(`removed ${path}`);
    }
  }
  return doomed;
}
