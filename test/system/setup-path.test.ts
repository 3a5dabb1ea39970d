// docs/setup.md driven as a new operator would, step by step, from nothing to a green
// `doctor --cluster-only` and a passing smoke test (`hpc-bridge try`), with the wall time
// of each step printed at the end. The "login node" is a fresh sshd on loopback with its
// own service account; the cluster is the harness' real Slurm, whose clients find it ONLY
// through SLURM_CONF (there is no /etc/slurm/slurm.conf), so the wizard must offer and
// write scheduler.env; the site's module tree is on the operator's MODULEPATH only, so the
// wizard must write it for the module answered to load in the smoke test's job. The hub
// side is the release tarball (step 1), unpacked and run with nothing but Node; the wizard
// runs in a real terminal (tmux) as the service account.
// Deviations from the doc, all because everything is one machine here: the hub's commands
// run as root (not `sudo -u hpc-bridge`), with state in this test's directory; the
// systemd parts of step 1 are checked by test/unit/packaging/hub-release.test.ts; step 5's
// `scp` is a file copy, and the merge gives the bridge this test's own free ports; step 8
// (JupyterHub) is the end-to-end suite's (e2e-ssh.test.ts). Needs root.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { TmuxTerminal } from '../unit/hpc-wrappers/support/tmux-terminal.js';
import { REPO } from './bridge-process.js';
import { authorizeKey, ensureUser, freePort, runAs, startSlurm, startSshd, type SlurmCluster, type Sshd, type UserInfo } from './harness/index.js';

const SVC = 'hpcsetup-svc';
const NODE = process.execPath;
const PKG_VERSION = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version as string;

let dir: string;
let slurm: SlurmCluster;
let sshd: Sshd;
let svc: UserInfo;
let term: TmuxTerminal | null = null;
let serve: ChildProcess | null = null;
/** The installed `hpc-bridge` (step 1), the hub's config, the state dir. */
let hb: string;
let hubYaml: string;
let state: string;
/** The site's module tree (step 5). */
let modules: string;
const times: [string, number][] = [];

async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    times.push([name, (Date.now() - t0) / 1000]);
  }
}

/** The installed hpc-bridge, as the operator types it (PATH has node; no SLURM_CONF on the hub). */
function hpcBridge(args: string[], timeoutMs = 180_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { PATH: `${path.dirname(NODE)}:/usr/local/bin:/usr/bin:/bin`, HOME: dir, LANG: 'C.UTF-8' };
    execFile(hb, args, { cwd: dir, env, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

beforeAll(async () => {
  if (!existsSync(path.join(REPO, 'dist/hpc-bridge.mjs'))) throw new Error('run `npm run build` first (npm run test:system does)');
  dir = mkdtempSync('/tmp/sp-'); // short: the munge socket path must fit in 107 bytes
  chmodSync(dir, 0o711);
  modules = path.join(dir, 'modules');
  svc = await ensureUser(SVC);
  slurm = await startSlurm({ dir: path.join(dir, 'slurm'), users: [SVC] });
  sshd = await startSshd({ dir: path.join(dir, 'sshd'), extraConfig: ['Subsystem sftp /usr/lib/openssh/sftp-server'] });
  // Nothing of an earlier run in the service account's home.
  for (const d of ['hpc-wrap', 'hpc-work', 'hub-bridge.yaml']) rmSync(path.join(svc.home, d), { recursive: true, force: true });
}, 120_000);

afterAll(async () => {
  console.log(`docs/setup.md, wall time per step:\n${times.map(([n, s]) => `  ${s.toFixed(1).padStart(6)} s  ${n}`).join('\n')}\n  ${times.reduce((a, [, s]) => a + s, 0).toFixed(1).padStart(6)} s  in all`);
  if (serve?.pid && serve.exitCode === null) {
    serve.kill('SIGTERM');
    await new Promise((r) => serve!.once('exit', r));
  }
  term?.close();
  await sshd?.stop();
  await slurm?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('docs/setup.md, step by step', () => {
  it('1. installs the hub side from the release tarball; it runs with only Node', async () => {
    await step('1. install the hub side (pack + unpack the release)', async () => {
      const tarball = execFileSync(NODE, [path.join(REPO, 'scripts/pack-hub.mjs'), '--out', path.join(dir, 'release')], { cwd: REPO, encoding: 'utf8' }).trim();
      const opt = path.join(dir, 'opt/hpc-bridge');
      mkdirSync(path.join(opt, 'versions'), { recursive: true });
      execFileSync('tar', ['-xzf', tarball, '-C', path.join(opt, 'versions')]);
      symlinkSync(`versions/hpc-bridge-${PKG_VERSION}`, path.join(opt, 'current'));
      hb = path.join(opt, 'current/bin/hpc-bridge');
      state = path.join(dir, 'state'); // /var/lib/hpc-bridge
      mkdirSync(path.join(state, '.ssh'), { recursive: true, mode: 0o700 });
      chmodSync(state, 0o700);
      mkdirSync(path.join(dir, 'etc'));
      hubYaml = path.join(dir, 'etc/hub-bridge.yaml');
      const v = await hpcBridge(['--version']);
      expect(v.stdout.trim()).toBe(PKG_VERSION);
    });
  }, 180_000);

  it("2. makes the service account's key, authorizes it (restrict) and writes hub-bridge.yaml from the SSH example", async () => {
    await step('2. service account key + hub-bridge.yaml', async () => {
      const key = path.join(state, '.ssh/cluster_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hpc-bridge@hub', '-f', key]);
      await authorizeKey(SVC, `restrict ${readFileSync(`${key}.pub`, 'utf8').trim()}`);
      const example = parse(readFileSync(path.join(dir, 'opt/hpc-bridge/current/share/config/hub-bridge.ssh.example.yaml'), 'utf8'));
      // $EDITOR: the names of this site
      const toHere = (s: string) => s.replace('/var/lib/hpc-bridge', state).replace('/home/hpcsvc', svc.home);
      example.apiTokenFile = toHere(example.apiTokenFile);
      example.stateDb = toHere(example.stateDb);
      example.hubService.apiTokenFile = toHere(example.hubService.apiTokenFile);
      example.hubService.listen = { host: '127.0.0.1', port: await freePort() };
      example.listen = { host: '127.0.0.1', port: await freePort() };
      Object.assign(example.cluster.transport, {
        host: '127.0.0.1', port: sshd.port, user: SVC,
        identityFile: toHere(example.cluster.transport.identityFile), knownHostsFile: toHere(example.cluster.transport.knownHostsFile),
      });
      example.cluster.hpcWrap = [NODE, ...example.cluster.hpcWrap.slice(1).map(toHere)];
      writeFileSync(hubYaml, stringify(example));
      const check = await hpcBridge(['--config', hubYaml, 'config', 'check']);
      expect(check.code, check.stderr).toBe(0);
    });
  });

  it("3. trusts the login node's host key by its fingerprint, read out of band", async () => {
    await step('3. cluster trust --fingerprint', async () => {
      const fp = execFileSync('ssh-keygen', ['-lf', path.join(sshd.dir, 'ssh_host_ed25519_key.pub')], { encoding: 'utf8' }).split(' ')[1]!;
      expect(fp).toMatch(/^SHA256:/);
      const r = await hpcBridge(['--config', hubYaml, 'cluster', 'trust', '--fingerprint', fp]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(readFileSync(path.join(state, '.ssh/known_hosts'), 'utf8')).toContain(`[127.0.0.1]:${sshd.port} ssh-ed25519 `);
    });
  });

  it('4. deploys hpc-wrap before any hpc-wrap.yaml exists, and names the wizard as the next step', async () => {
    await step('4. deploy (--dry-run, then for real)', async () => {
      const dry = await hpcBridge(['--config', hubYaml, 'deploy', '--dry-run']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toContain('dry run: nothing was changed');
      expect(existsSync(path.join(svc.home, 'hpc-wrap'))).toBe(false);
      const r = await hpcBridge(['--config', hubYaml, 'deploy']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`wizard --out ${svc.home}/hpc-wrap/hpc-wrap.yaml (docs/setup.md step 5)`);
    });
  });

  it('5. the wizard in a terminal, as the service account, writes both files; scheduler.env comes from its shell', async () => {
    await step('5. wizard (terminal) + hpc-wrap doctor + copy to the hub', async () => {
      const wrap = `${svc.home}/hpc-wrap/current/hpc-wrap.mjs`;
      const hpcYaml = `${svc.home}/hpc-wrap/hpc-wrap.yaml`;
      const tdir = path.join(dir, 'tmux');
      mkdirSync(tdir);
      // The site's module tree (real Lmod): the operator's login shell has it on MODULEPATH,
      // the jobs the bridge starts over SSH do not (no login shell): the wizard must write it.
      mkdirSync(path.join(modules, 'hpctool'), { recursive: true, mode: 0o755 });
      writeFileSync(path.join(modules, 'hpctool', '1.0.lua'), 'whatis("a module of this test")\nsetenv("HPCTOOL_LOADED", "1")\n', { mode: 0o644 });
      term = new TmuxTerminal(tdir, {
        PATH: `${path.dirname(NODE)}:/usr/local/bin:/usr/bin:/bin`, HOME: tdir, TERM: 'xterm-256color', LANG: 'C.UTF-8', SLURM_CONF: slurm.env.SLURM_CONF, MODULEPATH: modules,
      });
      const t = term;
      t.start(['/usr/sbin/runuser', '-u', SVC, '--', NODE, wrap, 'wizard', '--out', hpcYaml, '--hub-out', `${svc.home}/hub-bridge.yaml`], svc.home);
      const answer = async (prompt: string, text: string | null) => {
        await t.waitFor(prompt, 1, 30_000);
        if (text !== null) t.type(text);
        t.key('Enter');
      };
      await answer('Work directory of hpc-wrap', `${svc.home}/hpc-work`);
      await answer('Batch system', null); // slurm, found on PATH
      await answer('Submit command', null);
      await answer('Query command', null);
      await answer('Cancel command', null);
      await t.waitFor(`SLURM_CONF=${slurm.env.SLURM_CONF}`); // offered from the shell
      await answer('Environment the scheduler commands need', null); // and squeue answers with it
      await answer('How the hub host reaches this login node', null); // ssh
      await answer("The bridge's state directory on the hub host", state);
      await answer("This login node's name or address", '127.0.0.1');
      await answer("This login node's SSH port", String(sshd.port));
      await answer('Service account the bridge logs in as', null); // the account running the wizard
      await answer('Private key file of the service account', null);
      await answer('known_hosts file on the hub host', null);
      await answer('through an SSH tunnel', 'n');
      await answer('persistent home directory', null);
      await answer('Where the per-user homes are made', null);
      await answer('Singularity/Apptainer container', null);
      await t.waitFor('Lmod finds 1 module(s) here: hpctool/1.0', 1, 30_000);
      await answer('Environment modules to load before the notebook server starts', 'hpctool/1.0');
      // The profiles: offered from the partitions the harness' Slurm reports; the operator types a short one.
      await t.waitFor('(debug 1 2G 01:00:00 debug)');
      await answer('Profiles students choose from', 'small 1 256 00:10:00 debug');
      await answer('Log level', null);
      await answer('Application log file', null);
      await answer('Start in maintenance mode', null);
      await t.waitFor('Next steps:', 1, 30_000);
      expect(await t.waitForExit()).toBe(0);
      expect(t.screen()).toContain(`on the hub host: scp ${SVC}@127.0.0.1:${svc.home}/hub-bridge.yaml /etc/hpc-bridge/hub-bridge.yaml`);
      const cfg = parse(readFileSync(hpcYaml, 'utf8'));
      expect(cfg.scheduler).toMatchObject({ kind: 'slurm', env: { SLURM_CONF: slurm.env.SLURM_CONF } });

      // hpc-wrap doctor on the login node, as the docs say (exit 0: the scheduler answers)
      const doc = await runAs(SVC, [NODE, wrap, '--config', hpcYaml, 'doctor'], { env: { PATH: process.env.PATH } });
      expect(doc.code, doc.stderr).toBe(0);

      // "scp" to the hub, then the merge: this test's own ports (the profile is the wizard's).
      const fromWizard = parse(readFileSync(`${svc.home}/hub-bridge.yaml`, 'utf8'));
      expect(fromWizard.profiles).toEqual([{ name: 'small', displayName: 'small: 1 CPU, 256 MB, 10 min (debug)', environment: 'default', resources: { cpus: 1, memoryMB: 256, walltime: '00:10:00', partition: 'debug' } }]);
      // The module, and the tree it is in (no container: the server runs on the node as it is).
      expect(cfg.environments.default.modules).toMatchObject({ load: ['hpctool/1.0'], modulePath: [modules] });
      expect(cfg.defaultEnvironment).toBe('default');
      expect(fromWizard.cluster).toEqual({
        transport: { kind: 'ssh', host: '127.0.0.1', port: sshd.port, user: SVC, identityFile: path.join(state, '.ssh/cluster_ed25519'), knownHostsFile: path.join(state, '.ssh/known_hosts') },
        hpcWrap: [NODE, wrap, '--config', hpcYaml],
      });
      const mine = parse(readFileSync(hubYaml, 'utf8'));
      fromWizard.listen = mine.listen;
      fromWizard.hubService = { ...fromWizard.hubService, listen: mine.hubService.listen };
      writeFileSync(hubYaml, stringify(fromWizard));
    });
  }, 240_000);

  it('6. doctor --cluster-only is green before JupyterHub exists', async () => {
    await step('6. doctor --cluster-only', async () => {
      const r = await hpcBridge(['--config', hubYaml, 'doctor', '--cluster-only']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain(`ok    hpc-wrap version: ${PKG_VERSION} on both sides`);
      expect(r.stdout).toMatch(/^ok {4}scheduler: slurm answers$/m);
      // over SSH, as a job gets it: the wizard's module found through the modulePath it wrote
      expect(r.stdout).toMatch(/^ok {4}modules: Lmod finds the modules of default \(hpctool\/1\.0\) with a job's MODULEPATH$/m);
      expect(r.stdout).toContain('The cluster side checks out');
    });
  });

  it('7. the service starts and the smoke test passes through SSH and real Slurm, leaving no job', async () => {
    await step('7. serve + hpc-bridge try', async () => {
      serve = spawn(hb, ['--config', hubYaml, 'serve'], { cwd: dir, env: { PATH: `${path.dirname(NODE)}:/usr/bin:/bin`, LANG: 'C.UTF-8' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let log = '';
      serve.stderr!.on('data', (d) => (log += String(d)));
      await new Promise<void>((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`the bridge did not start: ${log}`)), 60_000);
        serve!.once('exit', (c) => rej(new Error(`the bridge exited (${c}): ${log}`)));
        serve!.stderr!.on('data', () => log.includes('listening on') && (clearTimeout(timer), res()));
      });
      const r = await hpcBridge(['--config', hubYaml, 'try', '--timeout', '120']);
      console.log(r.stdout);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('(profile small)'); // the wizard's profile
      expect(r.stdout).not.toMatch(/^\s+\d+\.\d s {2}tunnel /m); // the tunnel is off on this path
      expect(r.stdout).toMatch(/running|starting/);
      expect(r.stdout).toMatch(/^\s+\d+\.\d s {2}answers {4}http:\/\/\S+\/api from node \S+$/m);
      expect(r.stdout).toMatch(/Smoke test passed in/);
      const left = (await slurm.squeue()).filter((j) => j.user === SVC && !/COMPLET|CANCEL/.test(j.state));
      expect(left).toEqual([]);
      // The wizard's module was loaded in the job, which came over SSH without the login shell's MODULEPATH.
      const work = `${svc.home}/hpc-work`;
      const logs = readdirSync(work, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('output.log'));
      expect(logs.length).toBe(1);
      expect(readFileSync(path.join(work, logs[0]!), 'utf8')).toContain('loaded modules: hpctool/1.0');
    });
  }, 240_000);
});
