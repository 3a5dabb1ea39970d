// What `hpc-bridge deploy` pushes: the hpc-wrap bundle (its bytes, sha256 and the version
// it reports), the optional hpc-wrap.yaml (validated here first), the VERSION manifest,
// and the name of the version directory they go into.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { execa } from 'execa';
import { ConfigError, loadHpcWrapConfig } from '../../config/load.js';

export const BUNDLE_FILE = 'hpc-wrap.mjs';
export const CONFIG_FILE = 'hpc-wrap.yaml';
export const MANIFEST_FILE = 'VERSION';

export interface Artifact {
  bytes: Buffer;
  sha256: string;
}

export interface Bundle extends Artifact {
  version: string;
  source: string;
}

export interface HpcConfigFile extends Artifact {
  /** The local file it came from, or the remote version it was carried over from. */
  source: string;
}

/** A version string as a directory name can hold it (hpc-wrap prints its package version). */
const VERSION_RE = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/;

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export class DeployError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeployError';
  }
}

/**
 * Reads the built bundle and asks it for its version (running it locally also proves it
 * starts). `notBuiltHint` says how to get one when the file is missing.
 */
export async function readBundle(file: string, notBuiltHint: string): Promise<Bundle> {
  if (!existsSync(file) || !statSync(file).isFile()) throw new DeployError(`hpc-wrap is not built: ${file} does not exist. ${notBuiltHint}`);
  const bytes = readFileSync(file);
  const r = await execa(process.execPath, [file, '--version'], { reject: false, timeout: 30_000 });
  const version = String(r.stdout).trim();
  if (r.exitCode !== 0 || !VERSION_RE.test(version)) {
    throw new DeployError(`${file} is not a working hpc-wrap bundle: \`node ${file} --version\` exited ${r.exitCode ?? r.signal} and printed ${JSON.stringify(`${r.stdout}${r.stderr}`.slice(0, 300))}`);
  }
  return { bytes, sha256: sha256(bytes), version, source: file };
}

/** Reads and validates an hpc-wrap.yaml: a broken config is refused here, not on the cluster. */
export function readHpcConfig(file: string): HpcConfigFile {
  if (!existsSync(file)) throw new DeployError(`--config-file ${file} does not exist`);
  try {
    loadHpcWrapConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) throw new DeployError(`not deploying an invalid hpc-wrap.yaml: ${err.message}`);
    throw err;
  }
  const bytes = readFileSync(file);
  return { bytes, sha256: sha256(bytes), source: file };
}

/**
 * `<version>-<12 hex of the bundle's sha256>`, plus `-cfg-<8 hex of the config's>` when a
 * config goes with it: the same bundle and config always land in the same directory
 * (a repeated deploy only re-points `current`), a changed config in a new one.
 */
export function versionDirName(bundle: Bundle, config: Artifact | null): string {
  return `${bundle.version}-${bundle.sha256.slice(0, 12)}${config ? `-cfg-${config.sha256.slice(0, 8)}` : ''}`;
}

/** The VERSION file: the version on the first line, then each file with its sha256. */
export function manifest(bundle: Bundle, config: Artifact | null): Buffer {
  const lines = [bundle.version, `${BUNDLE_FILE} sha256:${bundle.sha256}`];
  if (config) lines.push(`${CONFIG_FILE} sha256:${config.sha256}`);
  return Buffer.from(`${lines.join('\n')}\n`);
}

/** The files of a version directory: name, content, mode. */
export function versionFiles(bundle: Bundle, config: Artifact | null): { name: string; bytes: Buffer; mode: number }[] {
  return [
    { name: BUNDLE_FILE, bytes: bundle.bytes, mode: 0o755 },
    ...(config ? [{ name: CONFIG_FILE, bytes: config.bytes, mode: 0o644 }] : []),
    { name: MANIFEST_FILE, bytes: manifest(bundle, config), mode: 0o644 },
  ];
}
