// `hpc-wrap wizard --non-interactive`: the same questions and checks from flags; a failed
// check ends the run with exit 2 and the reason, and nothing is written.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadHubBridgeConfig } from '../../../config/load.js';
import { buildBundle, HpcWrap, REPO, tempDir } from './support/hpc-wrap-bundle.js';

let bundle: string;
let dir: string;
let hub: Server;
let hubPort: number;
let env: NodeJS.ProcessEnv;
let mkfs: string;
let image: string;

function stub(name: string): string {
  const p = join(dir, 'bin', name);
  writeFileSync(p, '#!/bin/sh\n# test stand-in: the wizard only checks that it exists\nexit 0\n');
  chmodSync(p, 0o755);
  return p;
}

beforeAll(async () => {
  bundle = await buildBundle(tempDir());
  dir = tempDir('hpc-wrap-wizard-flags-');
  mkdirSync(join(dir, 'bin'));
  for (const name of ['sbatch', 'squeue', 'scancel']) stub(name);
  writeFileSync(join(dir, 'bin', 'sinfo'), "#!/bin/sh\n# test stand-in for sinfo --format=%P|%a: two partitions up, one down\nprintf 'debug*|up\\nbig|up\\nold|down\\n'\n");
  chmodSync(join(dir, 'bin', 'sinfo'), 0o755);
  // Module trees for the real Lmod, which checks the --modules and --runtime-modules answers;
  // the wizard writes the directories that hold the answered ones as modules.modulePath.
  for (const [tree, mod] of [['modules', 'python/3.11'], ['site', 'singularity/3.8'], ['other', 'gcc/13']] as const) {
    mkdirSync(join(dir, tree, dirname(mod)), { recursive: true });
    writeFileSync(join(dir, tree, `${mod}.lua`), `whatis("${mod} (a module tree of this test)")\n`);
  }
  mkfs = stub('mkfs-test');
  image = join(dir, 'compute.sif');
  writeFileSync(image, 'image');
  hub = createServer((_req, res) => res.end('{}'));
  await new Promise<void>((r) => hub.listen(0, '127.0.0.1', r));
  hubPort = (hub.address() as AddressInfo).port;
  env = { ...process.env, PATH: `${join(dir, 'bin')}:${join(REPO, 'test/fixtures/bin')}:/usr/bin:/bin`, MODULEPATH: ['modules', 'site', 'other'].map((t) => join(dir, t)).join(':'), LMOD_CMD: '' };
});
afterAll(() => hub?.close());

const wizard = (args: string[]) => new HpcWrap(bundle, null).run(['wizard', '--non-interactive', ...args], { env, cwd: dir });

const base = (out: string) => [
  '--work-dir', join(dir, 'work'), '--scheduler', 'slurm', '--api-port', String(hubPort), '--hub-host', 'localhost', '--out', out,
];

describe('hpc-wrap wizard --non-interactive', () => {
  it('writes a config from flags that config check accepts, with the defaults for the rest', async () => {
    const out = join(dir, 'full', 'hpc-wrap.yaml');
    const r = await wizard([
      ...base(out),
      '--submit', 'sbatch --parsable -M cluster1',
      '--container', '--runtime-modules', 'module load singularity', '--runtime', 'singularity', '--image', image,
      '--overlay-size', '4096', '--mkfs', mkfs,
      '--maintenance', '--maintenance-users', 'admin alice@example.org', '--log-level', 'debug',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`hpc-wrap --config ${out} config check`);
    expect(r.stdout).toContain(`hpc-wrap --config ${out} doctor`);
    const check = await new HpcWrap(bundle, out).run(['config', 'check']);
    expect(check.code, check.stdout).toBe(0);
    const cfg = parse(check.stdout.split('\n').slice(1).join('\n'));
    expect(cfg.scheduler.submit).toEqual(['sbatch', '--parsable', '-M', 'cluster1']);
    expect(cfg.environments.default.container).toMatchObject({ loadModules: ['singularity'], runtime: ['singularity'], image });
    // Jobs come over SSH without the login shell's MODULEPATH: the tree that has the runtime's module is written.
    expect(cfg.environments.default.modules).toMatchObject({ load: [], modulePath: [join(dir, 'site')] });
    expect(cfg.overlays).toMatchObject({ enabled: true, sizeMiB: 4096, mkfs: [mkfs] });
    expect(cfg.maintenance).toMatchObject({ enabled: true, allowUsers: ['admin', 'alice@example.org'] });
    expect(cfg.logging.level).toBe('debug');
    const hubCfg = loadHubBridgeConfig(join(dir, 'full', 'hub-bridge.yaml'));
    expect(hubCfg.hubApiUrl).toBe(`http://127.0.0.1:${hubPort}/hub/api`);
    expect(hubCfg.tunnel.publicHost).toBe('localhost');
    // Each key is preceded by its description from the schema.
    expect(readFileSync(out, 'utf8')).toMatch(/# Environment modules that provide the runtime[^\n]*\n(\s*#[^\n]*\n)?\s*loadModules: \[ singularity \]/);
  });

  it.each([
    [['--api-port', '80'], '--api-port: the API port must be from 1024 to 65535'],
    [['--submit', 'nosuch-submit --parsable'], '--submit: nosuch-submit was not found on PATH'],
    [['--submit', 'sbatch --parsable | tee x'], '--submit: the submit command: "|" is shell syntax'],
    [['--container', '--image', '/nonexistent/x.sif'], '--image: /nonexistent/x.sif does not exist'],
    [['--work-dir', '/etc/hostname/work'], '--work-dir: /etc/hostname/work cannot be created: /etc/hostname is a file'],
    [['--maintenance', '--maintenance-users', 'bob;rm'], '--maintenance-users: user name "bob;rm" is not allowed'],
    [['--hub-api-url', 'http://hub.example.org:8081/hub/api'], "--hub-api-url: with the tunnel the API is reached at the hub host's 127.0.0.1:"],
    [['--modules', 'module load py;thon'], '--modules: "py;thon" is not a module name'],
    [['--modules', 'nosuch/1.0'], `--modules: Lmod does not find nosuch/1.0 here (MODULEPATH: `],
    [['--modules', 'python/3.10'], /--modules: Lmod does not find python\/3\.10 here \(MODULEPATH: \S+\); it has python\/3\.11; check the name with "module avail" \(pass --accept-unreachable to keep it\)/],
    [['--container', '--runtime-modules', 'apptainer', '--runtime', 'apptainer', '--image', '/nonexistent.sif'], '--runtime-modules: Lmod does not find apptainer here'],
    [['--profiles', 'small 1 256'], '--profiles: profile 1 ("small 1 256") has 3 field(s); give NAME CPUS MEMORY WALLTIME [PARTITION [GPUS]]'],
    [['--profiles', 'a 1 2G 30; a 2 4G 60'], '--profiles: two profiles are named "a"'],
    [['--profiles', 'a 1 2G 1:2:3:4'], '--profiles: profile 1 ("a 1 2G 1:2:3:4"): walltime "1:2:3:4" is not a Slurm time'],
    [['--profiles', 'a 1 2T 30'], '--profiles: profile 1 ("a 1 2T 30"): memory "2T" is not a size'],
    [['--profiles', 'a 1 2G 30 old'], '--profiles: profile a: partition "old" is down (partitions here: debug* up, big up, old down); the bridge marks such a profile unavailable (pass --accept-unreachable to keep it)'],
    [['--profiles', 'a 1 2G 30 nosuch'], '--profiles: profile a: the scheduler reports no partition "nosuch"'],
    [['--profiles', 'a 1 2G 30 +cuda/99'], '--profiles: Lmod does not find cuda/99 here'],
    [['--profiles', 'a 1 2G 30 +-x'], '--profiles: profile 1 ("a 1 2G 30 +-x"): "+-x" is not a module name'],
  ])('refuses %j with exit 2 and the reason, writing nothing', async (extra, reason) => {
    const out = join(dir, `bad-${Math.random().toString(36).slice(2)}.yaml`);
    const r = await wizard([...base(out), ...extra]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(reason);
    expect(existsSync(out)).toBe(false);
  });

  it('profiles default to the partitions the scheduler reports; given ones are written with the modules, in the environment both files name', async () => {
    const first = join(dir, 'prof-default', 'hpc-wrap.yaml');
    const r = await wizard(base(first));
    expect(r.code, r.stderr).toBe(0);
    const offered = loadHubBridgeConfig(join(dir, 'prof-default', 'hub-bridge.yaml')).profiles;
    // the partitions that take jobs, the default one first; no environment (none was made)
    expect(offered.map((p) => [p.name, p.resources.partition, p.resources.cpus, p.resources.memoryMB, p.resources.walltime, p.environment])).toEqual([
      ['debug', 'debug', 1, 2048, '01:00:00', null],
      ['big', 'big', 1, 2048, '01:00:00', null],
    ]);
    expect(parse(readFileSync(first, 'utf8')).environments).toBeUndefined();

    const out = join(dir, 'prof-given', 'hpc-wrap.yaml');
    const given = await wizard([...base(out), '--modules', 'module load python/3.11', '--profiles', 'small 1 256 00:10:00 debug; gpu 4 8G 1-00 - 2 +gcc/13']);
    expect(given.code, given.stderr).toBe(0);
    const check = await new HpcWrap(bundle, out).run(['config', 'check']);
    expect(check.code, check.stdout).toBe(0);
    const cfg = parse(check.stdout.split('\n').slice(1).join('\n'));
    expect(cfg.environments.default.modules).toMatchObject({ load: ['python/3.11'], purge: false, modulePath: [join(dir, 'modules')] });
    expect(cfg.defaultEnvironment).toBe('default');
    // The profile with "+gcc/13" runs in its own environment: the base modules plus its own, with both trees.
    expect(cfg.environments.gpu.modules).toMatchObject({ load: ['python/3.11', 'gcc/13'], modulePath: [join(dir, 'modules'), join(dir, 'other')] });
    const hubCfg = loadHubBridgeConfig(join(dir, 'prof-given', 'hub-bridge.yaml'));
    expect(hubCfg.profiles).toMatchObject([
      { name: 'small', displayName: 'small: 1 CPU, 256 MB, 10 min (debug)', environment: 'default', resources: { cpus: 1, memoryMB: 256, walltime: '00:10:00', partition: 'debug', gpus: 0 } },
      { name: 'gpu', displayName: 'gpu: 4 CPUs, 8 GB, 24 h, 2 GPUs with gcc/13', environment: 'gpu', resources: { cpus: 4, memoryMB: 8192, walltime: '1-00', partition: null, gpus: 2 } },
    ]);
    for (const p of hubCfg.profiles) expect(Object.keys(cfg.environments)).toContain(p.environment);

    // Without base modules or a container: only the profile with modules gets an environment.
    const own = join(dir, 'prof-own', 'hpc-wrap.yaml');
    const o = await wizard([...base(own), '--profiles', 'plain 1 2G 30; tools 1 2G 30 +gcc/13']);
    expect(o.code, o.stderr).toBe(0);
    const ownCfg = parse(readFileSync(own, 'utf8'));
    expect(Object.keys(ownCfg.environments)).toEqual(['tools']);
    expect(ownCfg.environments.tools.modules).toMatchObject({ load: ['gcc/13'], modulePath: [join(dir, 'other')] });
    expect(loadHubBridgeConfig(join(dir, 'prof-own', 'hub-bridge.yaml')).profiles.map((p) => [p.name, p.environment])).toEqual([['plain', null], ['tools', 'tools']]);
    expect((await new HpcWrap(bundle, own).run(['config', 'check'])).code).toBe(0);

    // a partition the scheduler reports down is kept only when the operator says so
    const kept = await wizard([...base(join(dir, 'prof-kept', 'hpc-wrap.yaml')), '--profiles', 'later 1 2G 30 old', '--accept-unreachable']);
    expect(kept.code, kept.stderr).toBe(0);
    expect(loadHubBridgeConfig(join(dir, 'prof-kept', 'hub-bridge.yaml')).profiles[0]!.resources.partition).toBe('old');
  });

  it('with the tunnel off asks for no hub URL; the hub file gets the SSH transport and the hpc-wrap it must run', async () => {
    const out = join(dir, 'no-tunnel', 'hpc-wrap.yaml');
    const args = ['--work-dir', join(dir, 'work'), '--scheduler', 'fork', '--no-tunnel', '--ssh-host', 'login1.example.org', '--ssh-user', 'hpcsvc', '--hub-state-dir', '/srv/bridge', '--out', out];
    const r = await wizard(args);
    expect(r.code, r.stderr).toBe(0);
    const hubCfg = loadHubBridgeConfig(join(dir, 'no-tunnel', 'hub-bridge.yaml'));
    expect(hubCfg.tunnel.enabled).toBe(false);
    expect(hubCfg.hubApiUrl).toBe('http://127.0.0.1:8081/hub/api'); // the default, checked by the hub's doctor
    expect(hubCfg.cluster.transport).toMatchObject({
      kind: 'ssh', host: 'login1.example.org', port: 22, user: 'hpcsvc',
      identityFile: '/srv/bridge/.ssh/cluster_ed25519', knownHostsFile: '/srv/bridge/.ssh/known_hosts',
    });
    expect(hubCfg).toMatchObject({ stateDb: '/srv/bridge/bridge.sqlite', apiTokenFile: '/srv/bridge/api-token', hubService: { apiTokenFile: '/srv/bridge/hub-service-token' } });
    expect(hubCfg.cluster.hpcWrap).toEqual([process.execPath, bundle, '--config', out]);
    expect(r.stdout).toContain(`on the hub host: scp hpcsvc@login1.example.org:${join(dir, 'no-tunnel', 'hub-bridge.yaml')} /etc/hpc-bridge/hub-bridge.yaml`);
  });

  it("takes the scheduler's environment from the shell, and refuses one the query command fails with", async () => {
    const slurmConf = join(dir, 'site-slurm.conf');
    const out = join(dir, 'env', 'hpc-wrap.yaml');
    const r = await new HpcWrap(bundle, null).run(['wizard', '--non-interactive', ...base(out)], { env: { ...env, SLURM_CONF: slurmConf }, cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(parse(readFileSync(out, 'utf8')).scheduler.env).toEqual({ SLURM_CONF: slurmConf });

    // a query command that fails: said with its own error, kept only with --accept-unreachable
    const failing = join(dir, 'bin', 'squeue-down');
    writeFileSync(failing, '#!/bin/sh\n# test stand-in for a squeue that cannot reach its controller\necho "slurm_load_jobs error: Unable to contact slurm controller" >&2\nexit 1\n');
    chmodSync(failing, 0o755);
    const bad = join(dir, 'env-bad', 'hpc-wrap.yaml');
    const refused = await wizard([...base(bad), '--query', `${failing} --all`, '--scheduler-env', 'SLURM_CONF=/nonexistent/slurm.conf']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`--scheduler-env: ${failing} --all failed with SLURM_CONF set as given: slurm_load_jobs error: Unable to contact slurm controller`);
    expect(existsSync(bad)).toBe(false);
    const bogus = await wizard([...base(bad), '--scheduler-env', 'SLURM_CONF=$HOME/x']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toContain('--scheduler-env: "SLURM_CONF=$HOME/x": quotes, $ and \\ are shell syntax');
  });

  it('needs the hub host when the tunnel is on (no default to guess)', async () => {
    const r = await wizard(['--work-dir', join(dir, 'work'), '--api-port', String(hubPort), '--out', join(dir, 'x.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--hub-host is required');
  });

  it('does not replace an existing file without --force', async () => {
    const out = join(dir, 'existing', 'hpc-wrap.yaml');
    mkdirSync(join(dir, 'existing'));
    writeFileSync(out, 'workDir: /keep\n');
    const r = await wizard(base(out));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${out} exists; pass --force to replace it`);
    expect(readFileSync(out, 'utf8')).toBe('workDir: /keep\n');
    const forced = await wizard([...base(out), '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(parse(readFileSync(out, 'utf8')).workDir).toBe(join(dir, 'work'));
  });

  it('without a terminal and without --non-interactive, says how to run it', async () => {
    const r = await new HpcWrap(bundle, null).run(['wizard'], { env, cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('needs a terminal');
    expect(r.stderr).toContain('--non-interactive');
  });
});
