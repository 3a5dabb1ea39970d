// `hpc-bridge deploy` with the local transport (a hub host that is a cluster client): the
// real hpc-wrap bundle deployed into a temp dir with node:fs, current switched by rename.
import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { hubBridgeSchema } from '../../../config/schema.js';
import { readBundle } from '../../../hub-bridge/deploy/deploy-artifacts.js';
import { deployCommand, destFromHpcWrap, versionCheckArgv, type DeployCommandOptions } from '../../../hub-bridge/deploy/deploy-command.js';
import { LocalDeployFs } from '../../../hub-bridge/deploy/deploy-fs.js';
import { deployHpcWrap } from '../../../hub-bridge/deploy/deploy.js';
import { startCurrentReader } from '../../support/current-reader.js';
import { buildBundle } from '../hpc-wrappers/support/hpc-wrap-bundle.js';

const PKG_VERSION = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version as string;

let dir: string;
let bundleV1: string;
let bundleV2: string;
let hpcConfig: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'deploy-local-'));
  mkdirSync(join(dir, 'b1'));
  mkdirSync(join(dir, 'b2'));
  bundleV1 = await buildBundle(join(dir, 'b1'));
  bundleV2 = join(dir, 'b2', 'hpc-wrap.mjs');
  copyFileSync(bundleV1, bundleV2);
  appendFileSync(bundleV2, '\n// a rebuilt bundle: same version, other bytes\n');
  hpcConfig = join(dir, 'hpc-wrap.yaml');
  writeFileSync(hpcConfig, stringify({ workDir: join(dir, 'work'), scheduler: { kind: 'fork' } }));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bridgeConfig(dest: string, withConfig = true) {
  return hubBridgeSchema.parse({
    cluster: { transport: { kind: 'local' }, hpcWrap: [process.execPath, `${dest}/current/hpc-wrap.mjs`, ...(withConfig ? ['--config', `${dest}/current/hpc-wrap.yaml`] : [])] },
  });
}

async function deploy(dest: string, over: Partial<DeployCommandOptions> = {}, cfg = bridgeConfig(dest)) {
  let out = '';
  let err = '';
  const code = await deployCommand(cfg, {
    configFile: '/etc/hpc-bridge/hub-bridge.yaml', dest: null, hpcConfig: null, bundle: bundleV1, defaultBundle: () => bundleV1,
    keep: 3, dryRun: false, out: (t) => void (out += t), err: (t) => void (err += t), ...over,
  });
  return { code, out, err };
}

/** Every entry below `root` with its kind (and link target), to compare trees. */
function tree(root: string): string[] {
  if (!existsSync(root)) return [];
  const walk = (d: string): string[] =>
    readdirSync(d).sort().flatMap((n) => {
      const p = join(d, n);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) return [`${p} -> ${readlinkSync(p)}`];
      return st.isDirectory() ? [`${p}/`, ...walk(p)] : [`${p} ${st.size}`];
    });
  return walk(root);
}

const versionDirs = (dest: string) => readdirSync(join(dest, 'versions')).filter((n) => !n.startsWith('.')).sort();
const runVersion = (file: string) => execFileSync(process.execPath, [file, '--version'], { encoding: 'utf8' }).trim();

describe('hpc-bridge deploy, local transport', () => {
  it('deploys into a fresh dest: current -> versions/<version>-<sha>, bundle runs, config and VERSION there', async () => {
    const dest = join(dir, 'fresh', 'hpc-wrap');
    const r = await deploy(dest, { hpcConfig });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const link = readlinkSync(join(dest, 'current'));
    expect(link).toMatch(new RegExp(`^versions/${PKG_VERSION.replaceAll('.', '\\.')}-[0-9a-f]{12}-cfg-[0-9a-f]{8}$`));
    expect(runVersion(join(dest, 'current/hpc-wrap.mjs'))).toBe(PKG_VERSION);
    expect(readFileSync(join(dest, 'current/hpc-wrap.yaml'), 'utf8')).toBe(readFileSync(hpcConfig, 'utf8'));
    expect(readFileSync(join(dest, 'current/VERSION'), 'utf8').split('\n')[0]).toBe(PKG_VERSION);
    expect(statSync(join(dest, 'current/hpc-wrap.mjs')).mode & 0o777).toBe(0o755);
    expect(statSync(join(dest, 'current/hpc-wrap.yaml')).mode & 0o777).toBe(0o644);
    expect(r.out).toContain(`hpc-wrap ${PKG_VERSION} is deployed`);
    expect(r.out).toContain('hpc-bridge --config /etc/hpc-bridge/hub-bridge.yaml doctor');
    // the deployed hpc-wrap answers with the pushed config, as the bridge will run it
    const doctor = JSON.parse(execFileSync(process.execPath, [join(dest, 'current/hpc-wrap.mjs'), '--config', join(dest, 'current/hpc-wrap.yaml'), 'doctor'], { encoding: 'utf8' }));
    expect(doctor.workDir.path).toBe(join(dir, 'work'));
    expect(readdirSync(join(dest, 'versions')).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('is idempotent: the same bundle again uploads nothing and leaves current as it is', async () => {
    const dest = join(dir, 'again');
    expect((await deploy(dest, { hpcConfig })).code).toBe(0);
    const before = tree(dest);
    const r = await deploy(dest, { hpcConfig });
    expect(r.code).toBe(0);
    expect(r.out).toContain('nothing to upload');
    expect(r.out).toContain('already points at');
    expect(tree(dest)).toEqual(before);
  });

  it('switches to a rebuilt bundle, keeps the config, keeps old versions; --keep 1 removes all but current', async () => {
    const dest = join(dir, 'switch');
    expect((await deploy(dest, { hpcConfig })).code).toBe(0);
    const first = readlinkSync(join(dest, 'current'));
    const r2 = await deploy(dest, { bundle: bundleV2 });
    expect(r2.code).toBe(0);
    expect(r2.out).toContain('keeping the hpc-wrap.yaml of the current version');
    const second = readlinkSync(join(dest, 'current'));
    expect(second).not.toBe(first);
    expect(readFileSync(join(dest, 'current/hpc-wrap.mjs')).equals(readFileSync(bundleV2))).toBe(true); // toEqual on 2.7 MB is slow
    expect(readFileSync(join(dest, 'current/hpc-wrap.yaml'), 'utf8')).toBe(readFileSync(hpcConfig, 'utf8'));
    expect(versionDirs(dest)).toEqual([first, second].map((l) => l.slice('versions/'.length)).sort());

    // back to the first bundle: the old directory is reused, current re-pointed
    const r3 = await deploy(dest, { bundle: bundleV1 });
    expect(r3.out).toContain('nothing to upload');
    expect(readlinkSync(join(dest, 'current'))).toBe(first);

    const r4 = await deploy(dest, { bundle: bundleV1, keep: 1 });
    expect(r4.code).toBe(0);
    expect(r4.out).toContain(`removed ${join(dest, second)}`);
    expect(versionDirs(dest)).toEqual([first.slice('versions/'.length)]);
    expect(runVersion(join(dest, 'current/hpc-wrap.mjs'))).toBe(PKG_VERSION);
  });

  it('a reader of current/hpc-wrap.mjs never sees a missing or partial file while versions switch', async () => {
    const dest = join(dir, 'reader');
    expect((await deploy(dest)).code).toBe(0);
    const reader = await startCurrentReader(join(dest, 'current/hpc-wrap.mjs'), [bundleV1, bundleV2], join(dir, 'reader-stop'));
    // many switches, each cheap: deployHpcWrap itself, the version check answered here
    const bundles = [await readBundle(bundleV2, ''), await readBundle(bundleV1, '')];
    const deps = { fs: new LocalDeployFs(), out: () => {}, remoteVersion: async () => PKG_VERSION };
    for (let i = 0; i < 60; i++) {
      const o = await deployHpcWrap({ dest, bundle: bundles[i % 2]!, config: null, keep: 3, dryRun: false }, deps);
      expect(o.switched).toBe(true);
    }
    const seen = await reader.stop();
    expect(seen.bad).toEqual([]);
    expect(seen.seen[0]).toBeGreaterThan(0);
    expect(seen.seen[1]).toBeGreaterThan(0);
  });

  it('--dry-run prints the plan and changes nothing', async () => {
    const dest = join(dir, 'dry');
    expect((await deploy(dest, { hpcConfig })).code).toBe(0);
    const before = tree(dest);
    const r = await deploy(dest, { bundle: bundleV2, dryRun: true, keep: 1 });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/would upload hpc-wrap\.mjs \(\d+ bytes\), hpc-wrap\.yaml/);
    expect(r.out).toContain('would switch');
    expect(r.out).toContain('dry run: nothing was changed');
    expect(tree(dest)).toEqual(before);
  });

  it('takes --dest from cluster.hpcWrap, else asks for it; warns when cluster.hpcWrap runs something else', async () => {
    expect(destFromHpcWrap(['/usr/bin/node', '/opt/hw/current/hpc-wrap.mjs', '--config', '/etc/hw.yaml'])).toBe('/opt/hw');
    expect(destFromHpcWrap(['/usr/local/bin/hpc-wrap'])).toBeNull();
    expect(versionCheckArgv(['/usr/bin/node', '/opt/hw/current/hpc-wrap.mjs', '--config', 'x'], '/v/hpc-wrap.mjs')).toEqual(['/usr/bin/node', '/v/hpc-wrap.mjs', '--version']);
    expect(versionCheckArgv(['/opt/other/hpc-wrap'], '/v/hpc-wrap.mjs')).toEqual(['/v/hpc-wrap.mjs', '--version']);

    const elsewhere = hubBridgeSchema.parse({ cluster: { transport: { kind: 'local' }, hpcWrap: ['/usr/local/bin/hpc-wrap'] } });
    const noDest = await deploy('', {}, elsewhere);
    expect(noDest.code).toBe(2);
    expect(noDest.err).toMatch(/give --dest DIR/);

    const dest = join(dir, 'warned');
    const r = await deploy(dest, { dest, hpcConfig }, elsewhere);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/WARNING: cluster\.hpcWrap in \/etc\/hpc-bridge\/hub-bridge\.yaml is \["\/usr\/local\/bin\/hpc-wrap"\].*Set it to \[.*current\/hpc-wrap\.mjs","--config",".*current\/hpc-wrap\.yaml"\]/);
    const noConfigArg = await deploy(dest, { hpcConfig }, bridgeConfig(dest, false));
    expect(noConfigArg.err).toMatch(/passes no --config: the deployed .*current\/hpc-wrap\.yaml is not used/);
  });

  it('refuses what it cannot deploy safely, with a message that says what to do', async () => {
    const dest = join(dir, 'refused');
    const missing = await deploy(dest, { bundle: null, defaultBundle: () => { throw new Error('hpc-wrap is not built'); } });
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('hpc-wrap is not built (no dist/hpc-wrap.mjs next to hpc-bridge): run `npm run build`');
    const gone = await deploy(dest, { bundle: join(dir, 'nope.mjs') });
    expect(gone.err).toContain(`hpc-wrap is not built: ${join(dir, 'nope.mjs')} does not exist`);

    const badYaml = join(dir, 'bad.yaml');
    writeFileSync(badYaml, 'workDir: 42\nschedular: {}\n');
    const bad = await deploy(dest, { hpcConfig: badYaml });
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/not deploying an invalid hpc-wrap\.yaml: .*bad\.yaml/);
    expect(existsSync(dest)).toBe(false);

    mkdirSync(join(dest, 'current'), { recursive: true });
    const notLink = await deploy(dest);
    expect(notLink.code).toBe(1);
    expect(notLink.err).toContain(`${join(dest, 'current')} (local) exists and is not a symbolic link`);
    expect(statSync(join(dest, 'current')).isDirectory()).toBe(true);

    expect((await deploy(dest, { keep: 0 })).code).toBe(2);
    expect((await deploy('relative/dir', { dest: 'relative/dir' })).err).toMatch(/must be an absolute, normalised directory path/);
  });

  it('does not switch current when the uploaded bundle does not report its version on the cluster side', async () => {
    const dest = join(dir, 'unverified');
    expect((await deploy(dest)).code).toBe(0);
    const before = readlinkSync(join(dest, 'current'));
    const lines: string[] = [];
    const run = deployHpcWrap(
      { dest, bundle: await readBundle(bundleV2, ''), config: null, keep: 3, dryRun: false },
      { fs: new LocalDeployFs(), out: (l) => lines.push(l), remoteVersion: async () => 'node: not found' },
    );
    await expect(run).rejects.toThrow(/did not check out: .*--version printed "node: not found", expected/);
    expect(readlinkSync(join(dest, 'current'))).toBe(before);
    expect(readdirSync(join(dest, 'versions'))).toEqual([before.slice('versions/'.length)]);
  });
});
