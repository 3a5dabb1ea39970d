// The HPC operator's tools as yargs command modules: `wizard`, `logs` and `config import`.
// Unlike the commands the bridge calls, they print for people (errors on stderr).
import type { Argv, CommandModule } from 'yargs';
import { runCommand } from './command-context.js';
import { runImport } from './legacy-import/import-command.js';
import { schedulerDefinition, schedulerKinds } from './schedulers/registry.js';
import { showLogs } from './logs/logs-command.js';
import { runUserCommand } from './launch/launch-context.js';
import { launchLogsCommand } from './launch/user-commands.js';
import { wizardHandler, wizardOptions } from './wizard/wizard-command.js';

interface Global {
  config?: string;
}

export const wizardCommand: CommandModule<Global, Global> = {
  command: 'wizard',
  describe: 'Write hpc-wrap.yaml (and the hub part, hub-bridge.yaml) by answering questions, or from flags with --non-interactive',
  builder: (y) => wizardOptions(y as Argv<Global>),
  handler: (a) => wizardHandler(a as unknown as Record<string, unknown>),
};

type LogsArgs = Global & { launch?: string; json: boolean; follow: boolean; user?: string; job?: string; lines: number; app?: boolean; 'job-output'?: boolean };

export const logsCommand: CommandModule<Global, LogsArgs> = {
  command: 'logs [launch]',
  describe: 'The output of one of your launches (LAUNCH: its id, job id or `last`); for operators: the application log (filtered by user or job) or the output of a job; --follow for new lines',
  builder: (y) =>
    y
      .positional('launch', { type: 'string', describe: 'one of your launches (hpc-wrap list): its id, a unique prefix, its job id, or `last`' })
      .option('json', { type: 'boolean', default: false, describe: 'with LAUNCH: JSON (one document, or one line per output line with --follow)' })
      .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'keep printing new lines until Ctrl-C' })
      .option('user', { alias: 'u', type: 'string', requiresArg: true, describe: 'only entries of this JupyterHub user (with --job-output: the newest session of this user)' })
      .option('job', { alias: 'j', type: 'string', requiresArg: true, describe: 'only entries of this job (with --job-output: the output of this job)' })
      .option('lines', { alias: 'n', type: 'number', default: 20, requiresArg: true, describe: 'how many of the last (matching) lines to print first' })
      .option('app', { type: 'boolean', describe: 'the application log (the default)' })
      .option('job-output', { type: 'boolean', describe: "the job's output log (stdout + stderr of the job) instead" })
      .conflicts('app', 'job-output')
      .example('$0 logs --user alice -n 50', "alice's last 50 application log entries")
      .example('$0 logs --job 123 --job-output -f', 'the output of job 123, followed')
      .example('$0 logs last -f', 'the output of your newest launch, followed') as Argv<LogsArgs>,
  handler: (a) =>
    a.launch !== undefined
      ? runUserCommand('logs', a.config, a.json, (ctx) => launchLogsCommand(ctx, { ref: a.launch === 'last' ? undefined : a.launch, follow: a.follow, lines: a.lines }, a.json))
      : runCommand('logs', a.config, async (ctx) => {
          await showLogs(ctx, { follow: a.follow, user: a.user, job: a.job, lines: a.lines, jobOutput: a['job-output'] === true });
          return {};
        }),
};

export const configImportCommand: CommandModule<Global, Global & { file: string; out?: string; 'hub-out'?: string; format: string; scheduler?: string; json: boolean; force: boolean }> = {
  command: 'import <file>',
  describe: 'Convert a JHub-HPC-Interface jh_config or jh_config.ini into hpc-wrap.yaml (+ hub-bridge.yaml), reporting every option',
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'the legacy config (read as text: never sourced or run)' })
      .option('out', { type: 'string', requiresArg: true, describe: 'where to write hpc-wrap.yaml (default ./hpc-wrap.yaml)' })
      .option('hub-out', { type: 'string', requiresArg: true, describe: 'where to write the hub part (default: hub-bridge.yaml next to --out)' })
      .option('format', { type: 'string', choices: ['auto', 'shell', 'ini'], default: 'auto', describe: 'shell = jh_config (sourced bash), ini = jh_config.ini' })
      .option('scheduler', {
        type: 'string',
        choices: schedulerKinds().filter((k) => schedulerDefinition(k).batchSystem),
        describe: "the workload manager, when the file's commands do not tell (e.g. a bare qsub); an import that cannot tell writes nothing",
      })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' })
      .option('force', { type: 'boolean', default: false, describe: 'replace existing files without asking' })
      .example('$0 config import /opt/JHub-HPC-Interface/jh_config --out /etc/hpc-wrap.yaml', '') as Argv<Global & { file: string; out?: string; 'hub-out'?: string; format: string; scheduler?: string; json: boolean; force: boolean }>,
  handler: async (a) => {
    const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY);
    process.exitCode = await runImport(
      { file: a.file, out: a.out, hubOut: a['hub-out'], format: a.format as 'auto' | 'shell' | 'ini', scheduler: a.scheduler ?? null, json: a.json, force: a.force },
      interactive,
    );
  },
};
