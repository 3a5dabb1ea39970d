// conda.env / conda.init / conda.yml / conda.useMamba with the conda TEST DOUBLE
// (test/fixtures/bin/conda: conda cannot be installed here), copied into a fake
// installation as <root>/bin/conda and <root>/bin/mamba. It records every call, so the
// tests see the exact argv hpc-wrap ran and whether the hub's variables reached it.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, makeWorkspace, REPO, tempDir, type Workspace } from './support/hpc-wrap-bundle.js';
import { envReporter, HUB_TOKEN, reportedEnv, runStartEnv, statusOf, writeRunDir } from './support/software-env.js';

const DOUBLE = resolve(REPO, 'test/fixtures/bin/conda');
let bundle: string;
let ws: Workspace;
let root: string;
let log: string;
let scratch: string;

interface Call {
  program: string;
  argv: string[];
  sawHubToken: boolean;
}
const calls = (): Call[] => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Call) : []);

function yml(name: string, text: string): string {
  const f = join(ws.dir, name);
  writeFileSync(f, text);
  return f;
}

beforeAll(async () => {
  bundle = await buildBundle(tempDir());
  ws = makeWorkspace(bundle);
  root = join(ws.dir, 'miniconda3');
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'etc', 'profile.d'), { recursive: true });
  writeFileSync(join(root, 'etc', 'profile.d', 'conda.sh'), '# sourced by shells; hpc-wrap never runs it\n');
  copyFileSync(DOUBLE, join(root, 'bin', 'conda'));
  copyFileSync(DOUBLE, join(root, 'bin', 'mamba'));
  mkdirSync(join(root, 'envs', 'notebooks-sharing', 'bin'), { recursive: true });
  mkdirSync(join(root, 'envs', 'notebooks-sharing', 'etc', 'conda', 'activate.d'), { recursive: true });
  writeFileSync(join(root, 'envs', 'notebooks-sharing', 'etc', 'conda', 'activate.d', 'gdal.sh'), 'export GDAL_DATA=x\n');
  log = join(ws.dir, 'conda-calls.jsonl');
  scratch = join(ws.dir, 'scratch');
  mkdirSync(scratch);
});
afterAll(() => ws.cleanup());

const run = (environment: Record<string, unknown>, extra: { hubEnv?: Record<string, string>; env?: NodeJS.ProcessEnv } = {}) => {
  const spooled = writeRunDir(ws, envReporter(), { environment, hubEnv: extra.hubEnv });
  const r = runStartEnv(bundle, ws, spooled.runDir, { CONDA_TEST_DOUBLE_LOG: log, ...extra.env });
  return { ...spooled, ...r };
};

describe('conda.env with conda.init (galyleo --conda-env / --conda-init)', () => {
  it('activates a named env through `conda shell.posix activate`, read as data; conda never sees the hub env', async () => {
    writeFileSync(log, '');
    const r = run({ conda: { env: 'notebooks-sharing', init: join(root, 'etc', 'profile.d', 'conda.sh') } });
    expect(await r.exited, r.output()).toBe(0);
    const { env } = reportedEnv(r.output());
    const prefix = join(root, 'envs', 'notebooks-sharing');
    expect(env.CONDA_PREFIX).toBe(prefix);
    expect(env.CONDA_DEFAULT_ENV).toBe('notebooks-sharing');
    expect(env.PATH!.split(':')[0]).toBe(join(prefix, 'bin'));
    expect(env.CONDA_EXE).toBe(join(root, 'bin', 'conda'));
    expect(env.PS1).toBeUndefined(); // a shell variable, not part of the environment
    expect(env.JUPYTERHUB_API_TOKEN).toBe('<hub token>');
    expect(calls()).toEqual([{ program: 'conda', argv: ['shell.posix', 'activate', 'notebooks-sharing'], sawHubToken: false, envNames: expect.any(Array) }]);
    expect(r.output()).toMatch(/not run \(they need a shell\): .*activate\.d\/gdal\.sh/);
  });

  it('puts the env in front of the PATH the hub sent', async () => {
    const hubEnv = { JUPYTERHUB_API_TOKEN: HUB_TOKEN, PATH: `/hub/bin:${process.env.PATH}` };
    const r = run({ conda: { env: 'notebooks-sharing', init: root } }, { hubEnv });
    expect(await r.exited, r.output()).toBe(0);
    expect(reportedEnv(r.output()).env.PATH).toBe(`${join(root, 'envs', 'notebooks-sharing', 'bin')}:/hub/bin:${process.env.PATH}`);
  });

  it("fails with conda's own words for an unknown env, naming conda.env", async () => {
    const r = run({ conda: { env: 'nope', init: root } });
    expect(await r.exited).toBe(1);
    expect(statusOf(r.runDir).message).toMatch(/conda\.env: conda could not activate 'nope': .*EnvironmentNameNotFound: Could not find conda environment: nope/);
  });

  it('names conda.init when the installation does not exist, and conda.env when a name needs a conda that is not there', async () => {
    const r1 = run({ conda: { env: 'x', init: '/nonexistent/miniconda3/etc/profile.d/conda.sh' } });
    expect(await r1.exited).toBe(1);
    expect(statusOf(r1.runDir).message).toContain('conda.init: /nonexistent/miniconda3/etc/profile.d/conda.sh does not exist');

    const r2 = run({ conda: { env: 'x' } }, { env: { PATH: '/usr/bin:/bin', CONDA_EXE: '' } });
    expect(await r2.exited).toBe(1);
    expect(statusOf(r2.runDir).message).toContain("conda.env: activating the environment 'x' by name needs conda");
  });

  it('activates an env given by path without conda (computed: PATH, CONDA_PREFIX, CONDA_DEFAULT_ENV)', async () => {
    writeFileSync(log, '');
    const prefix = join(root, 'envs', 'notebooks-sharing');
    const r = run({ conda: { env: prefix } }, { env: { PATH: `${process.env.PATH}`, CONDA_EXE: '' } });
    expect(await r.exited, r.output()).toBe(0);
    const { env } = reportedEnv(r.output());
    expect(env).toMatchObject({ CONDA_PREFIX: prefix, CONDA_DEFAULT_ENV: 'notebooks-sharing', CONDA_SHLVL: '1' });
    expect(env.PATH).toBe(`${join(prefix, 'bin')}:${process.env.PATH}`);
    expect(calls()).toEqual([]);
  });
});

describe('conda.yml (galyleo --conda-yml / --mamba)', () => {
  const good = () => yml('environment.yml', 'name: notebooks-sharing\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - jupyterlab=4\n  - pip:\n    - nbgitpuller\n');

  it('creates the env in node-local scratch with `conda env create --prefix ... --file ...`, activates it, removes it after', async () => {
    writeFileSync(log, '');
    const file = good();
    const r = run({ conda: { yml: file, init: root, scratch } });
    expect(await r.exited, r.output()).toBe(0);
    const prefix = join(scratch, `hpc-wrap-${r.sessionId}`, 'env');
    expect(calls().map((c) => [c.program, c.argv, c.sawHubToken])).toEqual([
      ['conda', ['env', 'create', '--prefix', prefix, '--file', file], false],
      ['conda', ['shell.posix', 'activate', prefix], false],
    ]);
    expect(reportedEnv(r.output()).env.CONDA_PREFIX).toBe(prefix);
    expect(r.output()).toContain('conda: Solving environment: done');
    expect(existsSync(join(scratch, `hpc-wrap-${r.sessionId}`))).toBe(false);
  });

  it('uses mamba for creating when useMamba', async () => {
    writeFileSync(log, '');
    const r = run({ conda: { yml: good(), init: root, scratch, useMamba: true } });
    expect(await r.exited, r.output()).toBe(0);
    expect(calls().map((c) => `${c.program} ${c.argv.slice(0, 2).join(' ')}`)).toEqual(['mamba env create', 'conda shell.posix activate']);
  });

  it('fails fast on a broken yml, naming conda.yml and the line, before conda runs', async () => {
    writeFileSync(log, '');
    const bad = yml('broken.yml', 'name: x\ndependencies:\n  - python=3.11\n  - [unclosed\n');
    const r = run({ conda: { yml: bad, init: root, scratch } });
    expect(await r.exited).toBe(1);
    expect(statusOf(r.runDir).message).toMatch(new RegExp(`conda\\.yml: ${bad} is not valid YAML at line \\d+`));
    expect(calls()).toEqual([]);

    const noDeps = yml('nodeps.yml', 'name: x\nchannels: [conda-forge]\n');
    const r2 = run({ conda: { yml: noDeps, init: root, scratch } });
    expect(await r2.exited).toBe(1);
    expect(statusOf(r2.runDir).message).toContain(`conda.yml: ${noDeps} has no dependencies list`);
  });

  it("passes on conda's error when the env cannot be created and removes the scratch directory", async () => {
    const f = yml('unsolvable.yml', 'dependencies:\n  - python=3.11\n  - nosuchpackage=1.0\n');
    const r = run({ conda: { yml: f, init: root, scratch } });
    expect(await r.exited).toBe(1);
    expect(statusOf(r.runDir).message).toMatch(/conda\.yml: `conda env create` failed: conda exited with status 1: .*ResolvePackageNotFound/);
    expect(existsSync(join(scratch, `hpc-wrap-${r.sessionId}`))).toBe(false);
  });
});
