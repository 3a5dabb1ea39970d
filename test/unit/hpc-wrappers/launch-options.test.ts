// Every option of `hpc-wrap launch` (hpc-wrappers/launch/option-table.ts) and what it
// produces: the sbatch argv (through the real Slurm adapter's argv builder and the launch's
// own submit code), or the server's argv, environment and config files in a real launch
// job run by the fork scheduler (the real start-env steps: the real Lmod, the Singularity
// and conda TEST DOUBLES, and test/fixtures/launch-reporter.mjs in place of Jupyter).
// The last test fails when the table gains an option no test here covers.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hpcWrapSchema } from '../../../config/schema.js';
import { jupyterToken } from '../../../contract/launch.js';
import { LaunchPaths } from '../../../hpc-wrappers/launch/launch-paths.js';
import type { LaunchRecord } from '../../../hpc-wrappers/launch/launch-record.js';
import { LAUNCH_OPTIONS } from '../../../hpc-wrappers/launch/option-table.js';
import { resolveLaunch } from '../../../hpc-wrappers/launch/resolve-options.js';
import { submitLaunchJob } from '../../../hpc-wrappers/launch/submit-launch-job.js';
import { slurmDialect } from '../../../hpc-wrappers/schedulers/slurm/dialect.js';
import { schedulerSchema } from '../../../hpc-wrappers/schedulers/registry.js';
import type { JobSubmission, SchedulerAdapter } from '../../../hpc-wrappers/schedulers/types.js';
import { DEFAULT_LMOD } from '../../../hpc-wrappers/start-env/modules-step.js';
import { REPO, tempDir } from './support/hpc-wrap-bundle.js';
import { launchSite, type LaunchSite } from './support/launch-site.js';

const covered = new Set<string>();
const cover = (...names: string[]) => names.forEach((n) => covered.add(n));

// ---------------------------------------------------------------------------------------
// sbatch argv

function recordingScheduler(submitted: string[][]): SchedulerAdapter {
  let n = 100;
  const settings = schedulerSchema().parse({ kind: 'slurm' }) as unknown as Parameters<typeof slurmDialect.submitArgs>[1];
  return {
    name: 'slurm',
    timeoutMs: 30_000,
    gpuVariables: slurmDialect.gpuVariables,
    jobIdVariable: slurmDialect.jobIdVariable,
    async submit(job: JobSubmission) {
      submitted.push(slurmDialect.submitArgs(job, settings));
      return { jobId: String(n++) };
    },
    async query() {
      return { reachable: true, error: null, jobs: new Map() };
    },
    async cancel() {},
    async findMarked() {
      return { reachable: true, error: null, jobs: [] };
    },
    describe: () => ({ name: 'slurm', batchSystem: true, summary: 'recording' }),
  };
}

const base = tempDir('launch-argv-');
const cfg = hpcWrapSchema.parse({ workDir: join(base, 'work'), scheduler: { kind: 'slurm' }, launch: { stateDir: join(base, 'state'), defaults: { jupyter: 'notebook' } } });

async function sbatchArgv(args: Record<string, unknown>, afterJob: string | null = null): Promise<string[]> {
  const r = resolveLaunch({ args, config: cfg, cwd: base, home: base, condaCacheDir: join(base, 'cache') });
  const paths = new LaunchPaths(join(base, 'state'));
  paths.ensure();
  const id = `l${Math.random().toString(36).slice(2, 10).replace(/[^a-z2-7]/g, 'a').padEnd(8, 'a')}`;
  mkdirSync(paths.launchDir(id), { recursive: true });
  const rec: LaunchRecord = {
    version: 1, id, user: 'alice', createdAt: new Date().toISOString(), host: 'login1', configPath: null, resources: r.resources, interface: r.interface,
    notebookDir: r.notebookDir, environment: r.environment, keepAlive: r.keepAlive, bindAddress: '0.0.0.0', secretHash: 'A'.repeat(43), gateway: null,
  };
  const submitted: string[][] = [];
  await submitLaunchJob({ cfg, configPath: '/etc/hpc-wrap.yaml', paths, rec, scheduler: recordingScheduler(submitted), n: afterJob ? 2 : 1, afterJob });
  return submitted[0]!;
}

describe('scheduler options → sbatch argv', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['account', { account: 'abc123' }, '--account=abc123'],
    ['reservation', { reservation: 'resv-1' }, '--reservation=resv-1'],
    ['partition', { partition: 'shared' }, '--partition=shared'],
    ['qos', { qos: 'short' }, '--qos=short'],
    ['nodes', { nodes: 2 }, '--nodes=2'],
    ['ntasks-per-node', { 'ntasks-per-node': 4 }, '--ntasks-per-node=4'],
    ['cpus', { cpus: 2 }, '--cpus-per-task=2'],
    ['memory', { memory: 1 }, '--mem=1024M'],
    ['gpus', { gpus: 1 }, '--gres=gpu:1'],
    ['gres', { gres: ['gpu:p100:1', 'mps:100'] }, '--gres=gpu:p100:1,mps:100'],
    ['time-limit', { 'time-limit': '00:10:00' }, '--time=00:10:00'],
    ['constraint', { constraint: ['avx2', 'ib'] }, '--constraint=avx2&ib'],
  ];
  for (const [name, args, expected] of cases) {
    it(`--${name} → ${expected}`, async () => {
      cover(name);
      const argv = await sbatchArgv(args);
      expect(argv).toContain(expected);
      expect(argv.filter((a) => a.startsWith(expected.split('=')[0]! + '='))).toHaveLength(1);
    });
  }

  it('--memory takes fractions of a GB; -M 0.5 → --mem=512M', async () => {
    expect(await sbatchArgv({ memory: 0.5 })).toContain('--mem=512M');
  });

  it('every launch job carries the route comment and its run dir; the site defaults fill the rest', async () => {
    const argv = await sbatchArgv({});
    expect(argv.find((a) => a.startsWith('--comment='))).toMatch(/^--comment=hpcwrap-launch:v1:A{43}$/);
    expect(argv).toContain('--cpus-per-task=1');
    expect(argv).toContain('--time=00:30:00');
    expect(argv.some((a) => a.startsWith('--nodes') || a.startsWith('--gres') || a.startsWith('--dependency'))).toBe(false);
    expect(argv[argv.length - 1]).toMatch(/\/jobs\/1\/submitted\.sh$/);
  });

  it('--keep-alive: the successor waits for the job it continues (--dependency=afterany:<job>)', async () => {
    cover('keep-alive');
    const argv = await sbatchArgv({ 'keep-alive': 2 }, '4711');
    expect(argv).toContain('--dependency=afterany:4711');
    expect(argv[argv.length - 1]).toMatch(/\/jobs\/2\/submitted\.sh$/);
  });
});

describe('what the options refuse, naming the option', () => {
  const refuse = (args: Record<string, unknown>, extra: Record<string, unknown> = {}) => () =>
    resolveLaunch({ args, config: hpcWrapSchema.parse({ ...extra, launch: { ...(extra.launch as object), stateDir: '/x' } }), cwd: base, home: base, condaCacheDir: '/c' });
  it.each([
    [{ cpus: 0 }, /^--cpus: /],
    [{ memory: 'lots' }, /^--memory: /],
    [{ 'time-limit': '1h' }, /^--time-limit: /],
    [{ partition: 'debug --uid=0' }, /^--partition: /],
    [{ constraint: ['a;b'] }, /^--constraint: /],
    [{ gpus: 1, gres: ['gpu:1'] }, /^--gpus: give either/],
    [{ nv: true }, /^--nv: only with --sif/],
    [{ sif: '/i.sif', nv: true, rocm: true }, /^--rocm: /],
    [{ bind: ['/a:/b:rx'] }, /^--bind: /],
    [{ sif: '/i.sif', bind: ['$TMPDIR'] }, /^--bind: .*variables are not expanded/],
    [{ mamba: true }, /^--mamba: only with --conda-yml/],
    [{ cache: true, 'conda-env': 'x' }, /^--cache: only with --conda-yml/],
    [{ 'conda-init': '/opt/conda' }, /^--conda-init: give --conda-env/],
    [{ 'conda-pack': '/a.tgz', 'conda-yml': '/e.yml' }, /^--conda-yml: /],
    [{ environment: 'nope' }, /^--environment: "nope" is not an environment/],
    [{ jupyter: 'lab', json: true, quiet: true }, /^--json: /],
    [{ 'checklist-timeout': -1 }, /^--checklist-timeout: /],
    [{ 'keep-alive': 9 }, /^--keep-alive: 9 is more than this site allows: 3/],
  ])('%j', (args, message) => {
    expect(refuse(args)).toThrow(message);
  });

  it('the site limits name their key', () => {
    const limits = { launch: { limits: { maxCpus: 4, maxMemoryGB: 8, maxTimeLimit: '02:00:00', partitions: ['shared'] } } };
    expect(refuse({ cpus: 8 }, limits)).toThrow(/^--cpus: 8 is more than this site allows: 4 \(launch\.limits\.maxCpus/);
    expect(refuse({ memory: 16 }, limits)).toThrow(/^--memory: .*launch\.limits\.maxMemoryGB/);
    expect(refuse({ 'time-limit': '1-00:00:00' }, limits)).toThrow(/^--time-limit: .*launch\.limits\.maxTimeLimit/);
    expect(refuse({ partition: 'gpu' }, limits)).toThrow(/^--partition: gpu is not one of shared/);
  });
});

// ---------------------------------------------------------------------------------------
// The server's argv, environment and config in a real launch job (fork scheduler)

const haveLmod = existsSync(DEFAULT_LMOD);
let site: LaunchSite;

beforeAll(async () => {
  site = await launchSite({}, { environments: { 'site-python': { modules: { load: ['jupyter-env/1.0'], modulePath: [] } } } });
  // the site environment's module tree is the test's
  const cfgFile = site.wrap.configPath!;
  writeFileSync(cfgFile, readFileSync(cfgFile, 'utf8').replace('modulePath: []', `modulePath: [${JSON.stringify(site.moduleTree)}]`));
}, 120_000);
afterAll(() => {
  /* the temp dirs go with the machine's tmp cleaning; jobs have all ended */
});

function secretOf(id: string): string {
  return (JSON.parse(readFileSync(join(site.stateDir, 'launches', id, 'secret.json'), 'utf8')) as { routeSecret: string }).routeSecret;
}

describe('Jupyter, modules and container options → the server argv, environment and config', () => {
  // Launches run side by side: each is a real fork job running the real start-env steps.
  let lab: Awaited<ReturnType<LaunchSite['launchAndReport']>>;
  let voila: typeof lab;
  let dflt: typeof lab;
  let named: typeof lab;
  let project: string;
  let data: string;
  beforeAll(async () => {
    project = join(site.notebookDir, 'project');
    data = join(site.dir, 'data');
    mkdirSync(project, { recursive: true });
    mkdirSync(data, { recursive: true });
    const init = join(site.condaRoot, 'etc', 'profile.d', 'conda.sh');
    [lab, voila, dflt, named] = await Promise.all([
      site.launchAndReport(['-j', 'lab', '-d', project, ...(haveLmod ? ['-e', 'jupyter-env/1.0', '--append-modulepath', site.moduleTree] : []), '--disable-checklist'], { MODULEPATH: '' }),
      site.launchAndReport(['--interface', 'voila', '-s', site.image, '-B', `${data}:/data:ro,${site.notebookDir}`, '--nv', '--disable-checklist']),
      site.launchAndReport(['--sif', site.image, '--rocm', '--conda-env', 'notebooks-sharing', '--conda-init', init, '--disable-checklist']),
      haveLmod ? site.launchAndReport(['--environment', 'site-python', '--disable-checklist'], { MODULEPATH: '' }) : Promise.resolve(null as never),
    ]);
  }, 180_000);

  it('--jupyter lab / --interface voila / the default: the command of launch.jupyterCommand; the config file carries token, port, base URL', () => {
    cover('jupyter');
    expect(lab.report?.argv, lab.output + lab.launch.stderr).toEqual(['lab']);
    const nb = lab.report!.configFiles['jupyter_notebook_config.json']!.NotebookApp!;
    expect(nb.token).toBe(jupyterToken(secretOf(lab.id)));
    expect(nb.base_url).toBe('/');
    expect(nb.ip).toBe('127.0.0.1'); // no gateway: the node's loopback, reached with ssh -L
    expect(Number(nb.port)).toBeGreaterThanOrEqual(52000);
    expect(lab.report!.configFiles['jupyter_server_config.json']!.IdentityProvider).toEqual({ token: nb.token });
    expect(JSON.stringify(lab.report!.argv)).not.toContain(String(nb.token));
    expect(voila.report?.argv, voila.output).toEqual(['voila']);
    expect(voila.report!.configFiles['voila.json']!.Voila).toMatchObject({ base_url: '/', open_browser: false });
    expect(dflt.report?.argv, dflt.output).toEqual(['notebook']);
  });

  it('--notebook-dir: the server starts there and serves it', () => {
    cover('notebook-dir');
    expect(lab.report?.cwd).toBe(project);
    expect(lab.report!.configFiles['jupyter_notebook_config.json']!.NotebookApp!.notebook_dir).toBe(project);
    expect(lab.report!.configFiles['jupyter_server_config.json']!.ServerApp!.root_dir).toBe(project);
  });

  it.skipIf(!haveLmod)('--env-modules with --append-modulepath: loaded into the server env (the real Lmod)', () => {
    cover('env-modules', 'append-modulepath');
    expect(lab.report!.env.JUPYTER_ENV_LOADED).toBe('1.0');
    expect(lab.report!.env.LOADEDMODULES).toBe('jupyter-env/1.0');
    expect(lab.report!.env.MODULEPATH).toBe(site.moduleTree);
    expect(lab.report!.env.PATH!.split(':')[0]).toBe('/opt/jupyter-env/bin');
  });

  it.skipIf(!haveLmod)('--environment: a site environment from hpc-wrap.yaml instead of the options', () => {
    cover('environment');
    expect(named.report?.env.JUPYTER_ENV_LOADED, named.output).toBe('1.0');
  });

  it('--sif with --bind and --nv: <runtime> exec --nv --bind src:dst:mode <image> <server>; --rocm', () => {
    cover('sif', 'bind', 'nv', 'rocm');
    const calls = site.containerCalls();
    const nv = calls.find((c) => c.argv.includes('--nv'))!;
    expect(nv.argv.slice(0, 2)).toEqual(['exec', '--nv']);
    expect(nv.argv).toContain(`${data}:/data:ro`);
    expect(nv.argv).toContain(`${site.notebookDir}:${site.notebookDir}:rw`);
    const img = nv.argv.indexOf(site.image);
    expect(nv.argv.slice(img + 1)).toEqual([process.execPath, join(REPO, 'test/fixtures/launch-reporter.mjs'), 'voila']);
    expect(nv.argv.some((a) => a.startsWith('--overlay'))).toBe(false);
    expect(calls.find((c) => c.argv.includes('--rocm'))?.argv.slice(-1)).toEqual(['notebook']);
  });

  it('--conda-env with --conda-init: activated through that installation, no shell (conda TEST DOUBLE)', () => {
    cover('conda-env', 'conda-init');
    expect(dflt.report?.env.CONDA_DEFAULT_ENV).toBe('notebooks-sharing');
    expect(dflt.report!.env.CONDA_PREFIX).toBe(join(site.condaRoot, 'envs', 'notebooks-sharing'));
    expect(site.condaCalls().map((c) => c.argv)).toContainEqual(['shell.posix', 'activate', 'notebooks-sharing']);
  });
});

describe('conda files → conda argv and the server environment (conda TEST DOUBLE)', () => {
  it('--conda-yml with --scratch-dir and --mamba: created in node-local scratch by mamba; --conda-pack: unpacked and activated by prefix', async () => {
    cover('conda-yml', 'scratch-dir', 'mamba', 'conda-pack');
    const yml = join(site.dir, 'environment.yml');
    writeFileSync(yml, 'name: notebooks-sharing\ndependencies:\n  - python=3.11\n  - notebook\n');
    const src = join(site.dir, 'packed-env');
    mkdirSync(join(src, 'bin'), { recursive: true });
    mkdirSync(join(src, 'conda-meta'), { recursive: true });
    writeFileSync(join(src, 'bin', 'conda-unpack'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const tarball = join(site.dir, 'notebooks-sharing.tar.gz');
    execFileSync('tar', ['-czf', tarball, '-C', src, '.']);
    const [r, p] = await Promise.all([
      site.launchAndReport(['--conda-yml', yml, '--conda-init', site.condaRoot, '--scratch-dir', site.scratch, '--mamba', '--disable-checklist']),
      site.launchAndReport(['--conda-pack', tarball, '--conda-env', 'notebooks-sharing', '--scratch-dir', site.scratch, '--disable-checklist']),
    ]);
    expect(r.report, r.output).not.toBeNull();
    const create = site.condaCalls().find((c) => c.argv[0] === 'env' && c.argv.includes(yml));
    expect(create?.program).toBe('mamba');
    expect(create?.argv).toEqual(['env', 'create', '--prefix', join(site.scratch, `hpc-wrap-${r.id}`, 'env'), '--file', yml]);
    expect(r.report!.env.CONDA_PREFIX).toBe(join(site.scratch, `hpc-wrap-${r.id}`, 'env'));
    expect(p.report?.env.CONDA_DEFAULT_ENV, p.output).toBe('notebooks-sharing');
    expect(p.report!.env.CONDA_PREFIX).toMatch(new RegExp(`^${join(site.scratch, `hpc-wrap-${p.id}`)}/conda-`));
  }, 120_000);

  it('--cache: the yml environment is packed into the cache, and the next launch unpacks it instead of creating it', async () => {
    cover('cache');
    const yml = join(site.dir, 'cached.yml');
    writeFileSync(yml, 'name: cached\ndependencies:\n  - notebook\n');
    const args = ['--conda-yml', yml, '--conda-init', site.condaRoot, '--scratch-dir', site.scratch, '--cache', '--disable-checklist'];
    const first = await site.launchAndReport(args);
    expect(first.report, first.output).not.toBeNull();
    const pack = site.condaCalls().find((c) => c.argv[0] === 'pack');
    expect(pack?.argv.slice(0, 3)).toEqual(['pack', '--prefix', join(site.scratch, `hpc-wrap-${first.id}`, 'env')]);
    const cacheDir = join(site.stateDir, 'conda-cache');
    expect(readdirSync(cacheDir).filter((f) => f.endsWith('.tar.gz'))).toHaveLength(1);
    writeFileSync(site.condaLog, '');
    const second = await site.launchAndReport(args);
    expect(second.output).toContain('using the cached environment');
    expect(site.condaCalls().some((c) => c.argv[0] === 'env')).toBe(false);
    expect(second.report?.env.CONDA_PREFIX).toMatch(new RegExp(`^${join(site.scratch, `hpc-wrap-${second.id}`)}/conda-`));
  }, 120_000);
});

describe('other options', () => {
  it('the checklist refuses a missing notebook directory, naming --notebook-dir; --disable-checklist submits anyway', async () => {
    cover('disable-checklist');
    const missing = join(site.dir, 'no-such-dir');
    const checked = await site.run(['launch', '-d', missing]);
    expect(checked.code).toBe(2);
    expect(checked.stderr).toContain(`--notebook-dir: ${missing} does not exist`);
    expect(checked.stderr).toContain('nothing was submitted');
    const skipped = await site.run(['launch', '-d', missing, '--disable-checklist', '--json']);
    expect(skipped.code, skipped.stderr).toBe(0);
    expect((skipped.json as { jobId: string }).jobId).toMatch(/^fork-\d+$/);
  });

  it('--checklist-timeout: a check that takes longer is killed and named', async () => {
    cover('checklist-timeout');
    const slow = await launchSite({ jupyterCommand: { lab: [process.execPath, '-e', 'setTimeout(() => {}, 20000)', '--'] } });
    const r = await slow.run(['launch', '-j', 'lab', '-d', slow.notebookDir, '--checklist-timeout', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--jupyter: .*did not finish within 1 s and was killed/);
  });

  it('--quiet prints only the link (here, without a gateway: the launch id); --json one document', async () => {
    cover('quiet', 'json');
    const [q, j] = await Promise.all([site.run(['launch', '-Q', '--disable-checklist']), site.run(['launch', '--json', '--disable-checklist'])]);
    expect(q.code, q.stderr).toBe(0);
    expect(q.stdout.trim()).toMatch(/^l[a-z2-7]{8}$/);
    expect(j.stdout.trim().split('\n')).toHaveLength(1);
    expect(j.json).toMatchObject({ id: expect.stringMatching(/^l[a-z2-7]{8}$/), jobId: expect.stringMatching(/^fork-/), url: null });
  });
});

describe('the option table', () => {
  it('every option has a test above', () => {
    const missing = LAUNCH_OPTIONS.map((o) => o.name).filter((n) => !covered.has(n));
    expect(missing).toEqual([]);
  });

  it('docs/launch.md lists every option and galyleo\'s spelling', () => {
    const doc = readFileSync(join(REPO, 'docs/launch.md'), 'utf8');
    for (const o of LAUNCH_OPTIONS) {
      expect(doc, `--${o.name}`).toContain(`--${o.name}`);
      if (o.galyleo) expect(doc, o.galyleo).toContain(o.galyleo.split(' / ')[0]!);
    }
  });
});
