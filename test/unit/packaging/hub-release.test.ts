// The hub side as an operator installs it (docs/setup.md step 1): `npm run pack:hub` makes
// ONE tarball; unpacked far from this checkout (no node_modules anywhere above it) its
// `bin/hpc-bridge` runs with nothing but Node — it opens its SQLite database (the one native
// module, shipped inside), serves, and a real throw-away session (`try`) goes through it and
// the hpc-wrap bundle shipped next to it. The systemd unit, sysusers and tmpfiles snippets
// pass systemd's own checks (systemd-analyze verify against the unpacked paths;
// systemd-sysusers and systemd-tmpfiles applied to a scratch root).
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../../system/harness/ports.js';

const REPO = resolve(import.meta.dirname, '../../..');
const PKG = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
let work: string;
let tarball: string;
let root: string; // the unpacked release
let serve: ChildProcess | null = null;

/** Node alone: PATH has only the directory of this node binary (for the #!/usr/bin/env node line). */
const bare = () => ({ PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: work, LANG: 'C.UTF-8' });

function run(argv: string[], cwd = work): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) =>
    execFile(argv[0]!, argv.slice(1), { cwd, env: bare(), timeout: 120_000 }, (err, stdout, stderr) =>
      res({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout: String(stdout), stderr: String(stderr) }),
    ),
  );
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'hub-release-'));
  tarball = execFileSync(process.execPath, [join(REPO, 'scripts/pack-hub.mjs'), '--out', join(work, 'out')], { cwd: REPO, encoding: 'utf8' }).trim();
  mkdirSync(join(work, 'opt'));
  execFileSync('tar', ['-xzf', tarball, '-C', join(work, 'opt')]);
  root = join(work, 'opt', `hpc-bridge-${PKG.version}`);
}, 180_000);

afterAll(async () => {
  if (serve?.pid && serve.exitCode === null) {
    serve.kill('SIGTERM');
    await new Promise((r) => serve!.once('exit', r));
  }
  rmSync(work, { recursive: true, force: true });
});

describe('the hub-side release tarball', () => {
  it('is named for its platform and holds the programs, the native module and the site files', () => {
    expect(tarball).toMatch(new RegExp(`hpc-bridge-${PKG.version.replace(/\./g, '\\.')}-${process.platform}-${process.arch}-node${process.versions.modules}\\.tar\\.gz$`));
    expect(readdirSync(join(work, 'opt'))).toEqual([`hpc-bridge-${PKG.version}`]); // one directory, nothing beside it
    for (const b of ['hpc-bridge', 'hpc-wrap']) expect(lstatSync(join(root, 'bin', b)).isSymbolicLink()).toBe(true);
    expect(statSync(join(root, 'lib/hpc-bridge.mjs')).mode & 0o111).toBeTruthy();
    expect(readdirSync(join(root, 'node_modules')).sort()).toEqual(['better-sqlite3', 'bindings', 'file-uri-to-path']);
    for (const f of [
      'share/systemd/hpc-bridge.service', 'share/systemd/hpc-bridge.sysusers.conf', 'share/systemd/hpc-bridge.tmpfiles.conf',
      'share/config/hub-bridge.ssh.example.yaml', 'share/jupyterhub/pyproject.toml', 'share/batchspawner/hpc-bridge-submit', join('share', 'docs/setup.md'),
    ]) expect(existsSync(join(root, f)), f).toBe(true);
    expect(existsSync(join(root, 'share/jupyterhub/tests'))).toBe(false);
  });

  it('runs with nothing but Node: version, config check, serve (SQLite) and a real try through its own hpc-wrap', async () => {
    const hpcBridge = join(root, 'bin/hpc-bridge');
    const v = await run([hpcBridge, '--version']);
    expect(v.stdout.trim()).toBe(PKG.version);

    const site = join(work, 'site');
    mkdirSync(join(site, 'state'), { recursive: true, mode: 0o700 });
    writeFileSync(join(site, 'hpc-wrap.yaml'), stringify({ workDir: join(site, 'work'), scheduler: { kind: 'fork' } }));
    const cfg = join(site, 'hub-bridge.yaml');
    writeFileSync(
      cfg,
      stringify({
        listen: { host: '127.0.0.1', port: await freePort() },
        apiTokenFile: join(site, 'state/api-token'),
        stateDb: join(site, 'state/bridge.sqlite'),
        hubService: { enabled: false },
        cluster: { transport: { kind: 'local' }, hpcWrap: [process.execPath, join(root, 'bin/hpc-wrap'), '--config', join(site, 'hpc-wrap.yaml')] },
        profiles: [{ name: 'small', displayName: 'Small', resources: { cpus: 1, walltime: '00:10:00' } }],
      }),
    );
    const check = await run([hpcBridge, '--config', cfg, 'config', 'check']);
    expect(check.code, check.stderr).toBe(0);

    serve = spawn(hpcBridge, ['--config', cfg, 'serve'], { cwd: work, env: bare(), stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    serve.stderr!.on('data', (d) => (log += String(d)));
    await new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`the release's bridge did not start: ${log}`)), 60_000);
      serve!.once('exit', (c) => rej(new Error(`the release's bridge exited (${c}): ${log}`)));
      serve!.stderr!.on('data', () => log.includes('listening on') && (clearTimeout(t), res()));
    });
    expect(statSync(join(site, 'state/bridge.sqlite')).isFile()).toBe(true);
    const t = await run([hpcBridge, '--config', cfg, 'try', '--user', 'alice', '--timeout', '90']);
    expect(t.code, t.stdout + t.stderr).toBe(0);
    expect(t.stdout).toMatch(/Smoke test passed in/);
  }, 240_000);

  it('its systemd unit, sysusers and tmpfiles files pass systemd-analyze verify, systemd-sysusers and systemd-tmpfiles', async () => {
    const s = join(root, 'share/systemd');
    const units = join(work, 'units');
    mkdirSync(units);
    // The unit as installed, with /opt/hpc-bridge/current pointing at the unpacked release.
    for (const f of ['hpc-bridge.service', 'hpc-bridge-prune.service', 'hpc-bridge-prune.timer']) {
      writeFileSync(join(units, f), readFileSync(join(s, f), 'utf8').replaceAll('/opt/hpc-bridge/current', root));
    }
    const verify = await run(['systemd-analyze', 'verify', ...['hpc-bridge.service', 'hpc-bridge-prune.service', 'hpc-bridge-prune.timer'].map((f) => join(units, f))]);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stderr).toBe('');
    const unit = readFileSync(join(s, 'hpc-bridge.service'), 'utf8');
    expect(unit).toMatch(/^User=hpc-bridge$/m);
    expect(unit).toMatch(/^StateDirectoryMode=0700$/m);
    expect(unit).toMatch(/^CapabilityBoundingSet=$/m);

    // A scratch root: the account is made, then the directories with their owners and modes.
    const sys = join(work, 'sysroot');
    mkdirSync(join(sys, 'etc'), { recursive: true });
    for (const f of ['passwd', 'group', 'shadow', 'gshadow']) writeFileSync(join(sys, 'etc', f), '');
    const users = await run(['systemd-sysusers', `--root=${sys}`, join(s, 'hpc-bridge.sysusers.conf')]);
    expect(users.code, users.stderr).toBe(0);
    const entry = readFileSync(join(sys, 'etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith('hpc-bridge:'));
    expect(entry).toMatch(/^hpc-bridge:x:(\d+):\d+:[^:]*:\/var\/lib\/hpc-bridge:\/usr\/sbin\/nologin$/);
    const uid = Number(entry!.split(':')[2]);
    const dirs = await run(['systemd-tmpfiles', `--root=${sys}`, '--create', join(s, 'hpc-bridge.tmpfiles.conf')]);
    expect(dirs.code, dirs.stderr).toBe(0);
    for (const d of ['var/lib/hpc-bridge', 'var/lib/hpc-bridge/.ssh']) {
      const st = statSync(join(sys, d));
      expect({ d, mode: (st.mode & 0o777).toString(8), uid: st.uid }).toEqual({ d, mode: '700', uid });
    }
    expect((statSync(join(sys, 'etc/hpc-bridge')).mode & 0o777).toString(8)).toBe('755');
  });
});
