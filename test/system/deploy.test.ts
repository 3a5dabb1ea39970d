// `hpc-bridge deploy` over SSH: the built CLI pushes the hpc-wrap bundle over SFTP on the
// transport's host-key-verified connection, as the service account, to a real OpenSSH
// sshd on loopback; `current` switches atomically; doctor then agrees on the version.
// Needs root (service account, sshd).
import { execFile } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startCurrentReader } from '../support/current-reader.js';
import { REPO } from './bridge-process.js';
import { authorizeKey, ensureUser, makeClientKey, runAs, startSshd, type Sshd, type UserInfo } from './harness/index.js';

const SVC = 'hpcbridge-svc';
const NODE = '/usr/bin/node';
const PKG_VERSION = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version as string;

let dir: string;
let sshd: Sshd;
let svc: UserInfo;
let dest: string;
let bridgeYaml: string;
let hpcWrapYaml: string;
let bundleV2: string;

/** The built hpc-bridge CLI (dist/, so VERSION is the package version), as an admin runs it. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(REPO, 'dist/hpc-bridge.mjs'), ...args], { cwd: dir }, (err, stdout, stderr) => {
      const code = err ? Number((err as { code?: unknown }).code ?? 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function writeBridgeYaml(file: string, knownHostsFile: string, identityFile: string): void {
  writeFileSync(
    file,
    stringify({
      apiTokenFile: path.join(dir, 'api-token'),
      stateDb: path.join(dir, 'bridge.sqlite'),
      cluster: {
        transport: { kind: 'ssh', host: '127.0.0.1', port: sshd.port, user: SVC, identityFile, knownHostsFile },
        hpcWrap: [NODE, `${dest}/current/hpc-wrap.mjs`, '--config', `${dest}/current/hpc-wrap.yaml`],
      },
    }),
  );
}

const versionDirs = () => readdirSync(path.join(dest, 'versions')).filter((n) => !n.startsWith('.')).sort();

beforeAll(async () => {
  if (!existsSync(path.join(REPO, 'dist/hpc-bridge.mjs'))) throw new Error('run `npm run build` first (npm run test:system does)');
  dir = mkdtempSync('/tmp/deploy-');
  chmodSync(dir, 0o711);
  svc = await ensureUser(SVC);
  // Debian's sshd_config has this line; the harness writes its own config
  sshd = await startSshd({ dir: path.join(dir, 'sshd'), extraConfig: ['Subsystem sftp /usr/lib/openssh/sftp-server'] });
  const client = await makeClientKey(path.join(dir, 'client_key'));
  await authorizeKey(SVC, client.publicKey);
  const knownHostsFile = path.join(dir, 'known_hosts');
  writeFileSync(knownHostsFile, `${sshd.knownHostsLine()}\n`, { mode: 0o600 });
  // the service account owns the deploy area, as on a login node
  const area = path.join(dir, 'opt');
  mkdirSync(area, { mode: 0o755 });
  chownSync(area, svc.uid, svc.gid);
  dest = path.join(area, 'hpc-wrap');
  hpcWrapYaml = path.join(dir, 'hpc-wrap.yaml');
  writeFileSync(hpcWrapYaml, stringify({ workDir: path.join(area, 'work'), scheduler: { kind: 'fork' } }));
  bridgeYaml = path.join(dir, 'hub-bridge.yaml');
  writeBridgeYaml(bridgeYaml, knownHostsFile, client.privateKeyFile);
  // a rebuilt bundle: the same version, other bytes
  mkdirSync(path.join(dir, 'v2'));
  bundleV2 = path.join(dir, 'v2', 'hpc-wrap.mjs');
  copyFileSync(path.join(REPO, 'dist/hpc-wrap.mjs'), bundleV2);
  appendFileSync(bundleV2, '\n// rebuilt\n');
});

afterAll(async () => {
  try {
    await sshd?.stop();
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

describe('hpc-bridge deploy over SSH', () => {
  it('refuses a login node whose host key is not in known_hosts, and creates nothing', async () => {
    const other = path.join(dir, 'other-known-hosts');
    const otherKey = await makeClientKey(path.join(dir, 'not-the-host-key'));
    writeFileSync(other, `[127.0.0.1]:${sshd.port} ${otherKey.publicKey.split(' ').slice(0, 2).join(' ')}\n`, { mode: 0o600 });
    const yaml = path.join(dir, 'wrong-host-key.yaml');
    writeBridgeYaml(yaml, other, path.join(dir, 'client_key'));
    const r = await cli(['--config', yaml, 'deploy', '--config-file', hpcWrapYaml]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/host key of 127\.0\.0\.1:\d+ has CHANGED/);
    expect(existsSync(dest)).toBe(false);
  });

  it('deploys into a fresh dest as the service account: current/hpc-wrap.mjs runs, the config is there', async () => {
    const r = await cli(['--config', bridgeYaml, 'deploy', '--config-file', hpcWrapYaml]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`hpc-wrap ${PKG_VERSION} is deployed: ${dest}/current -> versions/${PKG_VERSION}-`);
    expect(r.stdout).toContain(`(sftp ${SVC}@127.0.0.1:${sshd.port})`);
    expect(r.stdout).toContain(`Next: run \`hpc-bridge --config ${bridgeYaml} doctor\``);
    const ran = await runAs(SVC, [NODE, `${dest}/current/hpc-wrap.mjs`, '--version']);
    expect(ran.stdout.trim()).toBe(PKG_VERSION);
    expect(readFileSync(`${dest}/current/hpc-wrap.yaml`, 'utf8')).toBe(readFileSync(hpcWrapYaml, 'utf8'));
    expect(readFileSync(`${dest}/current/VERSION`, 'utf8').split('\n')[0]).toBe(PKG_VERSION);
    for (const f of ['hpc-wrap.mjs', 'hpc-wrap.yaml', 'VERSION']) expect(statSync(`${dest}/current/${f}`).uid).toBe(svc.uid);
    expect(readlinkSync(`${dest}/current`)).toMatch(/^versions\//);
  });

  it('switches current to a second bundle while a reader never sees a missing or partial file; keeps the old version', async () => {
    const first = readlinkSync(`${dest}/current`);
    const built = path.join(REPO, 'dist/hpc-wrap.mjs');
    const reader = await startCurrentReader(`${dest}/current/hpc-wrap.mjs`, [built, bundleV2], path.join(dir, 'reader-stop'));
    let r = await cli(['--config', bridgeYaml, 'deploy', '--bundle', bundleV2]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('keeping the hpc-wrap.yaml of the current version');
    const second = readlinkSync(`${dest}/current`);
    // back and forth: more switches under the reader
    for (const b of [built, bundleV2, built, bundleV2]) expect((r = await cli(['--config', bridgeYaml, 'deploy', '--bundle', b])).code).toBe(0);
    const seen = await reader.stop();
    expect(seen.bad).toEqual([]);
    expect(seen.seen[0]).toBeGreaterThan(0);
    expect(seen.seen[1]).toBeGreaterThan(0);
    expect(second).not.toBe(first);
    expect(readlinkSync(`${dest}/current`)).toBe(second);
    expect(readFileSync(`${dest}/current/hpc-wrap.mjs`).equals(readFileSync(bundleV2))).toBe(true);
    expect(versionDirs()).toEqual([first, second].map((l) => l.slice('versions/'.length)).sort());

    // the same bundle again: nothing uploaded, current unchanged
    const again = await cli(['--config', bridgeYaml, 'deploy', '--bundle', bundleV2]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing to upload');
    expect(again.stdout).toContain('already points at');
    expect(readlinkSync(`${dest}/current`)).toBe(second);
  });

  it('--dry-run changes nothing; --keep 1 removes the older versions, never the current one', async () => {
    const current = readlinkSync(`${dest}/current`).slice('versions/'.length);
    const before = versionDirs();
    expect(before.length).toBe(2);
    const dry = await cli(['--config', bridgeYaml, 'deploy', '--bundle', bundleV2, '--keep', '1', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('would remove');
    expect(versionDirs()).toEqual(before);

    const r = await cli(['--config', bridgeYaml, 'deploy', '--bundle', bundleV2, '--keep', '1']);
    expect(r.code).toBe(0);
    expect(versionDirs()).toEqual([current]);
    expect(r.stdout).toMatch(/old versions removed: /);
  });

  it('doctor then reports the same hpc-wrap version on both sides against the deployed path', async () => {
    // back to the built bundle, so doctor runs exactly what `npm run build` made
    expect((await cli(['--config', bridgeYaml, 'deploy'])).code).toBe(0);
    const r = await cli(['--config', bridgeYaml, 'doctor']);
    expect(r.stdout).toContain(`ok    login node and hpc-wrap: ${NODE} ${dest}/current/hpc-wrap.mjs --config ${dest}/current/hpc-wrap.yaml`);
    expect(r.stdout).toContain(`ok    hpc-wrap version: ${PKG_VERSION} on both sides`);
    expect(r.stdout).toMatch(/ok {4}HPC work dir: .*opt\/work/);
  });
});
