// A site for `hpc-wrap launch` tests without a batch system: the bundle, an hpc-wrap.yaml
// with the fork scheduler and a `launch` section whose server commands are the launch
// reporter (test/fixtures/launch-reporter.mjs prints argv, env, cwd and the server's
// config files), the Singularity TEST DOUBLE as container runtime, a fake conda
// installation with the conda TEST DOUBLE, and a module tree for the real Lmod.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { buildBundle, HpcWrap, REPO, tempDir, type RunResult } from './hpc-wrap-bundle.js';
import { DOUBLE_BIN, readDoubleLog, type DoubleCall } from './container-env.js';

export const REPORTER = resolve(REPO, 'test/fixtures/launch-reporter.mjs');
const CONDA_DOUBLE = resolve(REPO, 'test/fixtures/bin/conda');

export interface LaunchReport {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  configFiles: Record<string, Record<string, Record<string, unknown>>>;
}

export interface LaunchSite {
  dir: string;
  stateDir: string;
  notebookDir: string;
  condaRoot: string;
  moduleTree: string;
  scratch: string;
  image: string;
  wrap: HpcWrap;
  containerLog: string;
  condaLog: string;
  /** Runs `hpc-wrap <args>` with the test doubles' logs in the environment. */
  run(args: string[], env?: NodeJS.ProcessEnv): Promise<RunResult>;
  /** `launch --json` + waits for the fork job to end; the reporter's line from the job output. */
  launchAndReport(args: string[], env?: NodeJS.ProcessEnv): Promise<{ launch: RunResult; id: string; output: string; report: LaunchReport | null }>;
  containerCalls(): DoubleCall[];
  condaCalls(): { program: string; argv: string[] }[];
}

export async function launchSite(extraLaunch: Record<string, unknown> = {}, extraConfig: Record<string, unknown> = {}): Promise<LaunchSite> {
  const dir = tempDir('hpc-wrap-launch-');
  const bundle = await buildBundle(dir);
  const stateDir = join(dir, 'state');
  const notebookDir = join(dir, 'notebooks');
  mkdirSync(notebookDir);
  const condaRoot = join(dir, 'miniconda3');
  mkdirSync(join(condaRoot, 'bin'), { recursive: true });
  mkdirSync(join(condaRoot, 'etc', 'profile.d'), { recursive: true });
  writeFileSync(join(condaRoot, 'etc', 'profile.d', 'conda.sh'), '# sourced by shells; hpc-wrap never runs it\n');
  copyFileSync(CONDA_DOUBLE, join(condaRoot, 'bin', 'conda'));
  copyFileSync(CONDA_DOUBLE, join(condaRoot, 'bin', 'mamba'));
  mkdirSync(join(condaRoot, 'envs', 'notebooks-sharing', 'bin'), { recursive: true });
  const moduleTree = join(dir, 'modulefiles');
  mkdirSync(join(moduleTree, 'jupyter-env'), { recursive: true });
  writeFileSync(join(moduleTree, 'jupyter-env', '1.0.lua'), 'setenv("JUPYTER_ENV_LOADED", "1.0")\nprepend_path("PATH", "/opt/jupyter-env/bin")\n');
  const scratch = join(dir, 'scratch');
  mkdirSync(scratch);
  const image = join(dir, 'notebook.sif');
  writeFileSync(image, 'not really an image: the Singularity test double only checks that it exists\n');
  const containerLog = join(dir, 'container-calls.jsonl');
  const condaLog = join(dir, 'conda-calls.jsonl');
  const configPath = join(dir, 'hpc-wrap.yaml');
  const reporter = (iface: string) => [process.execPath, REPORTER, iface];
  writeFileSync(
    configPath,
    stringify({
      workDir: join(dir, 'work'),
      logging: { file: join(dir, 'log', 'hpc-wrap.log') },
      scheduler: { kind: 'fork' },
      jupyter: { portRange: { start: 52000, end: 52900 } },
      launch: {
        stateDir,
        defaults: { jupyter: 'notebook' },
        jupyterCommand: { lab: reporter('lab'), notebook: reporter('notebook'), voila: reporter('voila') },
        container: { runtime: [join(DOUBLE_BIN, 'singularity')] },
        ...extraLaunch,
      },
      ...extraConfig,
    }),
  );
  const wrap = new HpcWrap(bundle, configPath);
  const doubles = { CONTAINER_TEST_DOUBLE_LOG: containerLog, CONDA_TEST_DOUBLE_LOG: condaLog };
  const site: LaunchSite = {
    dir,
    stateDir,
    notebookDir,
    condaRoot,
    moduleTree,
    scratch,
    image,
    wrap,
    containerLog,
    condaLog,
    run: (args, env = {}) => wrap.run(args, { env: { ...process.env, ...doubles, ...env }, cwd: dir, timeoutMs: 60_000 }),
    async launchAndReport(args, env = {}) {
      const launch = await site.run(['launch', '--json', ...args], env);
      const id = (launch.json as { id?: string } | null)?.id ?? '';
      if (launch.code !== 0 || !id) return { launch, id, output: '', report: null };
      const out = join(stateDir, 'launches', id, 'jobs', '1', 'output.log');
      const exit = join(stateDir, 'launches', id, 'jobs', '1', 'exit.json');
      const until = Date.now() + 60_000;
      while (!existsSync(exit) && Date.now() < until) await sleep(100);
      await sleep(100);
      const output = existsSync(out) ? readFileSync(out, 'utf8') : '';
      const line = output.split('\n').find((l) => l.startsWith('LAUNCH-REPORT '));
      return { launch, id, output, report: line ? (JSON.parse(line.slice('LAUNCH-REPORT '.length)) as LaunchReport) : null };
    },
    containerCalls: () => readDoubleLog(containerLog),
    condaCalls: () => (existsSync(condaLog) ? readFileSync(condaLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { program: string; argv: string[] }) : []),
  };
  return site;
}
