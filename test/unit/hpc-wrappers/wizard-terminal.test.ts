// `hpc-wrap wizard` driven through a real terminal (tmux): every question answered by
// keys, wrong answers re-asked with their reason on the screen, an existing file not
// replaced without a yes, and the written config accepted by `hpc-wrap config check`.
// The modules answered are checked by the real Lmod (a module tree of this test); the
// profiles are offered from the partitions a stand-in sinfo reports.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadHubBridgeConfig } from '../../../config/load.js';
import { buildBundle, HpcWrap, REPO, tempDir } from './support/hpc-wrap-bundle.js';
import { hasTmux, TmuxTerminal } from './support/tmux-terminal.js';

let bundle: string;
let dir: string;
let hub: Server;
let hubPort: number;
let term: TmuxTerminal;

/** A stand-in for the tools the wizard looks up on PATH (it only checks they exist). */
function stub(name: string): string {
  const p = join(dir, 'bin', name);
  writeFileSync(p, '#!/bin/sh\n# test stand-in: the wizard only checks that it exists\nexit 0\n');
  chmodSync(p, 0o755);
  return p;
}

beforeAll(async () => {
  if (!hasTmux()) throw new Error('this test needs tmux (apt-get install -y tmux; .ci/run installs it)');
  bundle = await buildBundle(tempDir());
  dir = tempDir('hpc-wrap-wizard-');
  mkdirSync(join(dir, 'bin'));
  for (const name of ['sbatch', 'scancel']) stub(name);
  // A stand-in squeue that, like a real one on a site without /etc/slurm/slurm.conf, finds
  // its controller only through SLURM_CONF (the system tests use real Slurm).
  writeFileSync(
    join(dir, 'bin', 'squeue'),
    '#!/bin/sh\n[ -n "$SLURM_CONF" ] && exit 0\necho "slurm_load_jobs error: Unable to contact slurm controller (connect failure)" >&2\nexit 1\n',
  );
  chmodSync(join(dir, 'bin', 'squeue'), 0o755);
  writeFileSync(
    join(dir, 'bin', 'sinfo'),
    "#!/bin/sh\n# test stand-in for sinfo --noheader --all --format=%P|%a: two partitions up, one down\n[ -n \"$SLURM_CONF\" ] || exit 1\nprintf 'debug*|up\\nbig|up\\nold|down\\n'\n",
  );
  chmodSync(join(dir, 'bin', 'sinfo'), 0o755);
  mkdirSync(join(dir, 'modules', 'python'), { recursive: true });
  for (const v of ['3.11', '3.12']) writeFileSync(join(dir, 'modules', 'python', `${v}.lua`), `whatis("Python ${v} (a module tree of this test)")\n`);
  mkdirSync(join(dir, 'modules', 'cuda'));
  writeFileSync(join(dir, 'modules', 'cuda', '12.2.lua'), 'whatis("CUDA (a module tree of this test)")\n');
  hub = createServer((_req, res) => res.end('{"version":"test"}'));
  await new Promise<void>((r) => hub.listen(0, '127.0.0.1', r));
  hubPort = (hub.address() as AddressInfo).port;
  term = new TmuxTerminal(dir, {
    PATH: `${join(dir, 'bin')}:${join(REPO, 'test/fixtures/bin')}:/usr/bin:/bin`,
    HOME: dir,
    TERM: 'xterm-256color',
    LANG: 'C.UTF-8',
    MODULEPATH: join(dir, 'modules'),
  });
});

afterAll(() => {
  term?.close();
  hub?.close();
});

describe('hpc-wrap wizard in a terminal', () => {
  it('asks, re-asks wrong answers with the reason, keeps an existing file, and writes a config that config check accepts', async () => {
    const image = join(dir, 'compute.sif');
    writeFileSync(image, 'not really a SIF: the wizard checks that the file exists');
    const mkfs = stub('mkfs-test');
    const out = join(dir, 'hpc-wrap.yaml');
    writeFileSync(out, '# an existing config the wizard must not replace without asking\nworkDir: /old\n');
    const t = term;
    t.start([process.execPath, bundle, 'wizard', '--out', out], dir);
    const answer = async (prompt: string, text: string | null, times = 1) => {
      await t.waitFor(prompt, times);
      if (text !== null) t.type(text);
      t.key('Enter');
    };

    await answer('Work directory of hpc-wrap', join(dir, 'work'));
    await answer('Batch system', null); // slurm: sbatch is on PATH
    await answer('Submit command', 'sbatch-missing --parsable');
    await t.waitFor('sbatch-missing was not found on PATH');
    t.key('C-u');
    t.type('sbatch --parsable');
    t.key('Enter');
    await answer('Query command', null);
    await answer('Cancel command', null);
    // The scheduler environment: the query command is run once with it; without SLURM_CONF it fails.
    await answer('Environment the scheduler commands need', null);
    await t.waitFor('squeue failed with no extra environment: slurm_load_jobs error: Unable to contact slurm controller');
    await answer('Use this answer anyway?', null); // default No: asked again
    await answer('Environment the scheduler commands need', 'SLURM_CONF', 2);
    await t.waitFor('"SLURM_CONF" is not NAME=value');
    t.type(`=${join(dir, 'slurm.conf')}`);
    t.key('Enter');
    // How the hub reaches this login node: written into hub-bridge.yaml's cluster.transport.
    await answer('How the hub host reaches this login node', null); // ssh
    await answer("The bridge's state directory on the hub host", null); // /var/lib/hpc-bridge
    await answer("This login node's name or address", 'login1.example.org');
    await answer("This login node's SSH port", null);
    await answer('Service account the bridge logs in as', 'hpcsvc');
    await answer('Private key file of the service account', 'relative/key');
    await t.waitFor('the key file must be an absolute path on the hub host');
    t.key('C-u');
    t.key('Enter'); // the default
    await answer('known_hosts file on the hub host', null);
    await answer('through an SSH tunnel', null); // yes
    await answer("Port of JupyterHub's API", '80');
    await t.waitFor('must be from 1024 to 65535 (ports up to 1023 need root), not 80');
    t.key('C-u');
    t.type(String(hubPort));
    t.key('Enter');
    await answer("JupyterHub's API URL", null); // default http://127.0.0.1:<port>/hub/api, answered by the test hub
    await answer('User name the tunnel agents log in as', null);
    await answer("The hub host's name", 'no-such-host.invalid');
    await t.waitFor('no-such-host.invalid does not resolve from this machine');
    await answer('Use this answer anyway?', null); // default No: asked again
    await answer("The hub host's name", 'localhost', 2);
    await answer('persistent home directory', null);
    await answer('Where the per-user homes are made', null);
    await answer('Singularity/Apptainer container', 'y');
    await answer('How the runtime is loaded', null);
    await answer('Container runtime command', null); // apptainer from test/fixtures/bin
    await answer('Container image for compute nodes', join(dir, 'missing.sif'));
    await t.waitFor(`${join(dir, 'missing.sif')} does not exist`);
    t.key('C-u');
    t.type(image);
    t.key('Enter');
    await answer('Container image for GPU jobs', null);
    await answer('persistent overlay image', null);
    await answer('Overlay size in MiB', null);
    await answer('mkfs command for the overlays', mkfs);
    await answer('Directory of the per-user overlay images', null);
    // Modules: what Lmod has here is shown first; one it does not find is a doubt naming the
    // versions it does have (default No: asked again).
    await t.waitFor('Lmod finds 3 module(s) here: cuda/12.2, python/3.11, python/3.12');
    await answer('Environment modules to load before the notebook server starts', 'module load python/3.10');
    await t.waitFor(`Lmod does not find python/3.10 here (MODULEPATH: ${join(dir, 'modules')}); it has python/3.11, python/3.12`);
    await answer('Use this answer anyway?', null);
    await answer('Environment modules to load before the notebook server starts', 'python/3.11', 2);
    // Profiles: offered from the partitions sinfo reports (those that take jobs, the default first).
    await t.waitFor('debug 1 2G 01:00:00 debug; big 1 2G 01:00:00 big');
    await answer('Profiles students choose from', 'small 1 256');
    await t.waitFor('profile 1 ("small 1 256") has 3 field(s)');
    t.key('C-u');
    t.type('small 1 256 00:10:00 debug; gpu 4 8G 02:00:00 old 1');
    t.key('Enter');
    await t.waitFor('profile gpu: partition "old" is down (partitions here: debug* up, big up, old down)');
    await answer('Use this answer anyway?', null);
    await answer('Profiles students choose from', 'small 1 256 00:10:00 debug; gpu 4 8G 02:00:00 big 1 +cuda/12.2', 2);
    await answer('Log level', null);
    await answer('Application log file', null);
    await answer('Start in maintenance mode', null);
    await answer(`Overwrite ${out}?`, null); // default No
    const second = join(dir, 'second.yaml');
    await answer('Write to which file instead?', second);
    await t.waitFor('Next steps:');
    expect(await t.waitForExit()).toBe(0);

    const screen = t.screen();
    expect(screen).toContain(`hpc-wrap --config ${second} config check`);
    expect(screen).toContain('hpc-wrap.yaml workDir: Root of per-user directories'); // the schema's description
    expect(readFileSync(out, 'utf8')).toContain('workDir: /old');

    const text = readFileSync(second, 'utf8');
    expect(text).toMatch(/# Submit command \(argv\); hpc-wrap appends the options and the script path\.\n\s*submit: \[ sbatch, --parsable \]/);
    const check = await new HpcWrap(bundle, second).run(['config', 'check']);
    expect(check.code, check.stderr + check.stdout).toBe(0);
    const cfg = parse(check.stdout.split('\n').slice(1).join('\n'));
    expect(cfg.workDir).toBe(join(dir, 'work'));
    expect(cfg.scheduler).toMatchObject({ kind: 'slurm', submit: ['sbatch', '--parsable'], query: ['squeue'], cancel: ['scancel'], env: { SLURM_CONF: join(dir, 'slurm.conf') } });
    expect(cfg.environments.default.container).toMatchObject({ runtime: ['apptainer'], image, gpuImage: null });
    // The module tree it was found in: jobs started over SSH do not get the login shell's MODULEPATH.
    expect(cfg.environments.default.modules).toMatchObject({ load: ['python/3.11'], modulePath: [join(dir, 'modules')] });
    // The GPU profile's own environment: the same container, the modules plus its +cuda/12.2.
    expect(cfg.environments.gpu.modules).toMatchObject({ load: ['python/3.11', 'cuda/12.2'], modulePath: [join(dir, 'modules')] });
    expect(cfg.environments.gpu.container).toEqual(cfg.environments.default.container);
    expect(cfg.defaultEnvironment).toBe('default');
    expect(cfg.overlays).toMatchObject({ enabled: true, sizeMiB: 2048, mkfs: [mkfs], location: join(dir, 'work', 'overlays') });
    expect(cfg.homes).toEqual({ create: true, root: join(dir, 'work', 'homes') });

    const hubCfg = loadHubBridgeConfig(join(dir, 'hub-bridge.yaml'));
    expect(hubCfg.hubApiUrl).toBe(`http://127.0.0.1:${hubPort}/hub/api`);
    expect(hubCfg.tunnel).toMatchObject({ enabled: true, user: 'tunnelbot', publicHost: 'localhost' });
    // Both files agree: the hub reaches this node over SSH and runs this very hpc-wrap with the file written here.
    expect(hubCfg.cluster.transport).toMatchObject({
      kind: 'ssh', host: 'login1.example.org', port: 22, user: 'hpcsvc',
      identityFile: '/var/lib/hpc-bridge/.ssh/cluster_ed25519', knownHostsFile: '/var/lib/hpc-bridge/.ssh/known_hosts',
    });
    expect(hubCfg.cluster.hpcWrap).toEqual([process.execPath, bundle, '--config', second]);
    expect(hubCfg).toMatchObject({ stateDb: '/var/lib/hpc-bridge/bridge.sqlite', apiTokenFile: '/var/lib/hpc-bridge/api-token' });
    expect(hubCfg.tunnel.hostKeyFile).toBe('/var/lib/hpc-bridge/tunnel-host-key');
    // The profiles as typed, each running in the environment written into hpc-wrap.yaml.
    expect(hubCfg.profiles).toMatchObject([
      { name: 'small', displayName: 'small: 1 CPU, 256 MB, 10 min (debug)', environment: 'default', resources: { cpus: 1, memoryMB: 256, walltime: '00:10:00', partition: 'debug', gpus: 0 } },
      { name: 'gpu', displayName: 'gpu: 4 CPUs, 8 GB, 2 h, 1 GPU (big) with cuda/12.2', environment: 'gpu', resources: { cpus: 4, memoryMB: 8192, walltime: '02:00:00', partition: 'big', gpus: 1 } },
    ]);
    expect(screen).toContain(`on the hub host: scp hpcsvc@login1.example.org:${join(dir, 'hub-bridge.yaml')} /etc/hpc-bridge/hub-bridge.yaml`);
  });
});
