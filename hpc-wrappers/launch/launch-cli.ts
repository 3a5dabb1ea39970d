// The launch commands as yargs command modules: `launch` (options from the table, grouped
// as galyleo groups them), `list`, `status`, `url`, `stop` (`clean` and `logs` share their
// names with the operator's forms: cli.ts, operator-commands.ts), and the two the
// machinery runs: `launch-env` (the job's entry point) and `launch-jobs` (the gateway's).
import type { Argv, CommandModule } from 'yargs';
import { runCommand } from '../command-context.js';
import { ENVIRONMENT_STEPS, startEnv } from '../start-env/start-env.js';
import { BASE_STEPS } from '../start-env/base-steps.js';
import { runtimeFromContext } from '../start-env/start-env-runtime.js';
import { launch } from './launch-command.js';
import { loadLaunchContext, runUserCommand } from './launch-context.js';
import { launchJobs } from './launch-jobs-command.js';
import { launchServerStep } from './launch-step.js';
import { LAUNCH_OPTIONS } from './option-table.js';
import { cleanCommand, listCommand, statusCommand, stopCommand, urlCommand } from './user-commands.js';

interface Global {
  config?: string;
}
type A = Global & Record<string, unknown>;

/** Adds every option of the table to `y`, grouped like galyleo's README. */
export function launchOptions(y: Argv<Global>): Argv<A> {
  let out = y as Argv<A>;
  for (const o of LAUNCH_OPTIONS) {
    out = out.option(o.name, {
      alias: o.aliases,
      type: o.type,
      describe: o.describe,
      group: `${o.group}:`,
      requiresArg: o.type !== 'boolean',
      ...(o.choices ? { choices: o.choices as string[] } : {}),
    });
  }
  return out;
}

const json = { type: 'boolean', default: false, describe: 'print one JSON document' } as const;

export const launchCommand: CommandModule<Global, A> = {
  command: 'launch',
  describe: 'Start a Jupyter session as a batch job and print the URL to open (for users without a hub)',
  builder: (y) =>
    launchOptions(y as Argv<Global>)
      .example('$0 launch -A abc123 -p shared -c 1 -m 2 -t 00:30:00 -e cpu,gcc,anaconda3', 'JupyterLab from modules (galyleo\'s first example)')
      .example('$0 launch -c 4 -t 01:00:00 --sif r-notebook_latest.sif -B /scratch', 'in a container')
      .example('$0 launch --conda-env notebooks-sharing --conda-init ~/miniconda3/etc/profile.d/conda.sh', 'in a conda environment')
      .epilog('Site defaults and limits: `launch` in hpc-wrap.yaml (hpc-wrap config docs). Then: hpc-wrap list | status | url | stop | logs | clean. docs/launch.md has the full story.') as Argv<A>,
  handler: (a) =>
    runUserCommand('launch', a.config, a.json === true, async (ctx) => {
      const { result, text } = await launch(ctx, a);
      return { text, json: result };
    }),
};

export const listCommandModule: CommandModule<Global, A> = {
  command: 'list',
  describe: 'Your launches: state, job, keep-alive, URL',
  builder: (y) => y.option('json', json) as Argv<A>,
  handler: (a) => runUserCommand('list', a.config, a.json === true, (ctx) => listCommand(ctx)),
};

export const statusCommandModule: CommandModule<Global, A> = {
  command: 'status [launch]',
  describe: 'One launch in detail (default: the newest); LAUNCH = its id, a unique prefix or its job id',
  builder: (y) => y.positional('launch', { type: 'string' }).option('json', json) as Argv<A>,
  handler: (a) => runUserCommand('status', a.config, a.json === true, (ctx) => statusCommand(ctx, a.launch as string | undefined)),
};

export const urlCommandModule: CommandModule<Global, A> = {
  command: 'url [launch]',
  describe: 'The URL of a launch; --new makes a fresh one-time link. Without a gateway: the ssh -L command for its node and port',
  builder: (y) =>
    y
      .positional('launch', { type: 'string' })
      .option('new', { type: 'boolean', default: false, describe: 'a new one-time link (the old one stops working)' })
      .option('wait', { type: 'boolean', default: false, describe: 'without a gateway: wait until Jupyter runs' })
      .option('wait-seconds', { type: 'number', default: 600, requiresArg: true, describe: 'how long --wait waits' })
      .option('json', json) as Argv<A>,
  handler: (a) =>
    runUserCommand('url', a.config, a.json === true, (ctx) =>
      urlCommand(ctx, { ref: a.launch as string | undefined, renew: a.new === true, wait: a.wait === true, waitSeconds: Number(a['wait-seconds']) }),
    ),
};

export const stopCommandModule: CommandModule<Global, A> = {
  command: 'stop [launch]',
  describe: 'Cancel the jobs of a launch (keep-alive successors too) and remove its route',
  builder: (y) => y.positional('launch', { type: 'string' }).option('json', json) as Argv<A>,
  handler: (a) => runUserCommand('stop', a.config, a.json === true, (ctx) => stopCommand(ctx, a.launch as string | undefined)),
};

/** `clean` without --older-than (the operator's form, cli.ts): the user's ended launches. */
export function cleanLaunches(a: Global & Record<string, unknown>): Promise<void> {
  return runUserCommand('clean', a.config, a.json === true, (ctx) => cleanCommand(ctx, ((a.launches as string[] | undefined) ?? []).map(String), a.cache === true));
}

export const launchEnvCommand: CommandModule<Global, A> = {
  command: 'launch-env',
  describe: false, // the launch job's entry point
  builder: (y) => y.option('run-dir', { type: 'string', demandOption: true, requiresArg: true }) as Argv<A>,
  handler: async (a) => {
    let exitCode = 1;
    try {
      const ctx = loadLaunchContext('launch-env', a.config);
      const step = launchServerStep({ config: ctx.config, configPath: ctx.configPath, scheduler: ctx.scheduler });
      exitCode = await startEnv(runtimeFromContext(ctx), { runDir: String(a['run-dir']), command: [], steps: [...BASE_STEPS, step, ...ENVIRONMENT_STEPS] });
    } catch (err) {
      process.stderr.write(`hpc-wrap launch-env: ${(err as Error).message}\n`);
    }
    process.exitCode = exitCode;
  },
};

export const launchJobsCommand: CommandModule<Global, A> = {
  command: 'launch-jobs',
  describe: false, // run by the gateway through its transport (contract/launch.ts)
  builder: (y) =>
    y
      .option('user', { type: 'string', array: true, default: [], describe: 'launch jobs of this account' })
      .option('job', { type: 'string', array: true, default: [], describe: 'this job, whatever its comment' }) as Argv<A>,
  handler: (a) =>
    runCommand('launch-jobs', a.config, async (ctx) => ({ output: await launchJobs(ctx, (a.user as unknown[]).map(String), (a.job as unknown[]).map(String)) })),
};
