// hpc-wrap's full command line (yargs): every command with its help, for people and for
// the forms the fast path (cli.ts) does not take. Thin: parse options, build the
// context, call one module.
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { answerFailure, helpAfterValidation } from '../contract/cli-usage.js';
import { ConfigError, loadHpcWrapConfig } from '../config/load-hpc-wrap.js';
import { configCheckText, hpcWrapConfigDocs } from './config-docs.js';
import { printJson, reportFailure, resolveConfigPath, runCommand } from './command-context.js';
import { errorDocument, WrapError } from './errors.js';
import { clean } from './clean.js';
import { parseAge } from '../config/duration.js';
import { setup } from './setup.js';
import { configImportCommand, logsCommand, wizardCommand } from './operator-commands.js';
import { forkRun } from './schedulers/fork/fork-supervisor.js';
import { runStartEnvCommand } from './start-env/start-env-command.js';
import { BATCHSPAWNER_SINGLEUSER, BATCHSPAWNER_SINGLEUSER_USAGE, parseSingleuserArgs, singleuserOptions, type SingleuserArgs } from './batchspawner-singleuser.js';
import { runAgent, runOp } from './run-op.js';
import {
  cleanLaunches, launchCommand, launchEnvCommand, launchJobsCommand, listCommandModule, statusCommandModule, stopCommandModule, urlCommandModule,
} from './launch/launch-cli.js';

declare const __HPC_BRIDGE_VERSION__: string | undefined;
const VERSION = typeof __HPC_BRIDGE_VERSION__ === 'string' ? __HPC_BRIDGE_VERSION__ : 'dev';

interface Global {
  config?: string;
}

/** A command-line mistake: the contract's "invalid" error, exit 2 (help instead, when asked for and no command was given). */
function usageError(msg: string | null, err: Error | undefined, y?: { showHelp(out: (s: string) => void): void }): never {
  const args = hideBin(process.argv);
  const answer = answerFailure(args, msg, err, (e) => e instanceof WrapError);
  if (!answer) throw err;
  if (answer.help && y) {
    y.showHelp((s) => process.stdout.write(`${s}\n`));
    process.exit(0);
  }
  let message = answer.help ? (err?.message ?? msg ?? 'invalid command line') : answer.message;
  // yargs' suggestion alone ("Did you mean launch?") does not say what was wrong
  const first = args.find((a) => !a.startsWith('-'));
  if (/^Did you mean /.test(message) && first) message = `Unknown argument: ${first}. ${message}`;
  printJson(errorDocument(new WrapError('invalid', message)));
  process.stderr.write(`hpc-wrap: ${message}\nRun \`hpc-wrap --help\` for usage.\n`);
  process.exit(2);
}

export function buildCli(argv: string[]): Argv<Global> {
  const cli = yargs(argv);
  // help last among the options, as --help lists them
  return helpAfterValidation(cli
    .scriptName('hpc-wrap')
    .usage('$0 <command> [options]\n\nThe HPC side of jupyterhub-hpc-bridge. Users without a hub: `launch` (then list, status, url, stop, logs, clean).\nThe commands the bridge runs print JSON on stdout; errors are {"error":{"code","message"}} with exit status\n1 (internal), 2 (invalid), 3 (maintenance), 4 (scheduler). The user commands print text, JSON with --json.')
    .option('config', {
      type: 'string',
      describe: 'hpc-wrap.yaml to use (default: $HPC_WRAP_CONFIG, else the embedded defaults: fork scheduler, workDir .state/hpc)',
      global: true,
      requiresArg: true,
    })
    .parserConfiguration({ 'populate--': true })
    .command(
      'startjob',
      'Submit a notebook job; reads one JSON request (at most 1 MiB) on stdin',
      (y) =>
        y
          .example('$0 startjob < request.json', 'submit; prints {"jobId","sessionId","runDir"}')
          .example('$0 --config /etc/hpc-wrap.yaml startjob < request.json', 'with a site config')
          .epilog('The request: {"version":1,"sessionId","user","serverName","env":{...},"command":[...],"resources":{...}|null,"script":null|"#!..."}. env is secret: it is written only to the spool (0600) and never to argv or logs. A second call with the same sessionId prints the first job id.'),
      (a) => runOp('startjob', a.config, []),
    )
    .command(
      'jobstate [ids..]',
      'State of jobs (ONE scheduler call for all ids), with server phase, queue position and output tail',
      (y) =>
        y
          .positional('ids', { type: 'string', array: true, describe: 'job ids as startjob printed them; none = read {"version":1,"jobs":[{"jobId","sessionId","user"}]} on stdin (what the bridge sends)' })
          .example('$0 jobstate 123 124', 'prints {"scheduler":{...},"jobs":{"123":{...},"124":{...}}}'),
      (a) => runOp('jobstate', a.config, (a.ids ?? []).map(String)),
    )
    .command(
      'marked-jobs',
      "The scheduler's live jobs that carry a session marker (ONE call), for the bridge's orphan reaper",
      (y) => y.example('$0 marked-jobs', 'prints {"reachable":true,"error":null,"jobs":[{"jobId","sessionId","account","state"}]}'),
      (a) => runOp('marked-jobs', a.config, []),
    )
    .command(
      'capabilities',
      'What this cluster side accepts (WebDAV, environments, identity mode), for the bridge to check requests early',
      (y) => y.example('$0 capabilities', 'prints {"version","scheduler","identity","webdav":{...},"environments":[...]}'),
      (a) => runOp('capabilities', a.config, []),
    )
    .command(
      'setup',
      'Prepare the shared directories under workDir (run once as the service account; per-user mode needs it)',
      (y) =>
        y
          .option('dry-run', { type: 'boolean', default: false, describe: 'print what would be made, change nothing' })
          .example('$0 --config /etc/hpc-wrap.yaml setup --dry-run', 'prints {"steps":[{"path","mode","group","action"}],"next"}'),
      (a) => runCommand('setup', a.config, async (ctx) => ({ output: setup(ctx, { dryRun: a['dry-run'] }) })),
    )
    .command(
      'accounting [ids..]',
      "What the scheduler's accounting recorded for jobs that ended (ONE call for all ids; Slurm: sacct, needs slurmdbd)",
      (y) =>
        y
          .positional('ids', { type: 'string', array: true, describe: 'job ids as startjob printed them' })
          .example('$0 accounting 123 124', 'prints {"scheduler":{"name","available","reachable","error"},"jobs":{"123":{"state","elapsedSeconds","cpuSeconds",...}}}'),
      (a) => runOp('accounting', a.config, (a.ids ?? []).map(String)),
    )
    .command(
      'clean [launches..]',
      'Your launches: remove the files of ended ones (running ones are kept). Operators, with --older-than: remove run dirs of sessions whose job is over and that nothing touched for that long (asks the scheduler once; removes nothing if it cannot)',
      (y) =>
        y
          .positional('launches', { type: 'string', array: true, describe: 'launches to clean (default: all your ended ones)' })
          .option('cache', { type: 'boolean', default: false, describe: 'your launches: also remove the --cache conda environments' })
          .option('json', { type: 'boolean', default: false, describe: 'your launches: print one JSON document' })
          .option('older-than', { type: 'string', requiresArg: true, describe: 'operators: age such as 30d, 12h (units s, m, h, d, w)' })
          .option('dry-run', { type: 'boolean', default: false, describe: 'operators: print what would be removed, remove nothing' })
          .example('$0 clean', 'remove the files of your ended launches')
          .example('$0 --config /etc/hpc-wrap.yaml clean --older-than 30d', 'operators: daily from cron or a systemd timer (docs/retention.md)'),
      (a) =>
        a['older-than'] === undefined
          ? cleanLaunches(a)
          : runCommand('clean', a.config, async (ctx) => {
              let olderThanSeconds: number;
              try {
                olderThanSeconds = parseAge(String(a['older-than']));
              } catch (err) {
                throw new WrapError('invalid', (err as Error).message);
              }
              return { output: await clean(ctx, { olderThanSeconds, dryRun: a['dry-run'] }) };
            }),
    )
    .command(
      'partitions',
      "The scheduler's partitions in one call (null for a scheduler without partitions); the bridge marks profiles that cannot run",
      (y) => y.example('$0 partitions', 'prints {"scheduler":"slurm","partitions":[{"name":"debug","available":true,"state":"up","default":true}]}'),
      (a) => runOp('partitions', a.config, []),
    )
    .command(
      'doctor',
      'Check this side: version, config, work dir, scheduler reachable, the environments\' modules as a job\'s Lmod finds them (JSON on stdout, which hpc-bridge doctor reads; each problem also on stderr, exit 1)',
      (y) => y.example('$0 --config /etc/hpc-wrap.yaml doctor', 'prints {"version","workDir":{...},"scheduler":{...}}'),
      (a) => runOp('doctor', a.config, []),
    )
    .command(
      'try-server',
      'The stand-in notebook server of `hpc-bridge try` (started inside a job by start-env; answers <prefix>api on JUPYTERHUB_SERVICE_URL)',
      {},
      async () => {
        try {
          await (await import('./try-server.js')).tryServer();
        } catch (err) {
          process.stderr.write(`hpc-wrap try-server: ${(err as Error).message}\n`);
          process.exitCode = 1;
        }
      },
    )
    .command(launchCommand)
    .command(listCommandModule)
    .command(statusCommandModule)
    .command(urlCommandModule)
    .command(stopCommandModule)
    .command(launchEnvCommand)
    .command(launchJobsCommand)
    .command(wizardCommand)
    .command(logsCommand)
    .command(
      'killjob [id]',
      "Cancel a job and remove its spool (cancelling a finished job is not an error); without an id, read {\"version\":1,\"jobId\",\"sessionId\",\"user\"} on stdin (what the bridge sends; jobId may be null: clean up only)",
      (y) => y.positional('id', { type: 'string' }).example('$0 killjob 123', 'prints {"jobId":"123","cancelled":true}'),
      (a) => runOp('killjob', a.config, a.id !== undefined ? [String(a.id)] : []),
    )
    .command(
      'start-env',
      'Inside the job: build the environment and run the single-user server (the hub command, or the one after --)',
      (y) =>
        y
          .option('run-dir', { type: 'string', requiresArg: true, describe: 'the session run dir (default: $HPC_WRAP_RUN_DIR)' })
          .example('$0 start-env --run-dir /scratch/jh/users/alice/sessions/s-...', 'run the hub command recorded by startjob')
          .example('$0 start-env -- batchspawner-singleuser jupyterhub-singleuser', 'in a ready batch script: run this command instead'),
      (a) => runStartEnvCommand('start-env', a.config, { runDir: a['run-dir'], command: ((a['--'] as unknown[]) ?? []).map(String) }),
    )
    .command(
      BATCHSPAWNER_SINGLEUSER,
      "Inside the job, as stock batchspawner's batchspawner_singleuser_cmd: start-env, report the port to the hub, run the server (everything after the command name is its argv)",
      // Stop at the command name: the server's options (--debug, ...) must not be read as ours.
      (y) => y.parserConfiguration({ 'populate--': true, 'halt-at-non-option': true }),
      async (a) => {
        let args: SingleuserArgs;
        try {
          args = parseSingleuserArgs(((a['--'] as unknown[]) ?? []).map(String));
        } catch (err) {
          return usageError(null, err as Error);
        }
        if (args.help) return void process.stdout.write(BATCHSPAWNER_SINGLEUSER_USAGE);
        await runStartEnvCommand(BATCHSPAWNER_SINGLEUSER, args.config ?? a.config, singleuserOptions(args));
      },
    )
    .command('config', 'Check, document or import (from JHub-HPC-Interface) hpc-wrap.yaml', (y) =>
      y
        .command(
          'check',
          'Print the effective configuration (secrets redacted), or what is wrong with it (exit 2)',
          (yy) => yy.example('$0 --config /etc/hpc-wrap.yaml config check', ''),
          (a) => {
            const path = resolveConfigPath(a.config);
            try {
              process.stdout.write(configCheckText(loadHpcWrapConfig(path), path));
            } catch (err) {
              if (!(err instanceof ConfigError)) throw err;
              process.exitCode = reportFailure('config check', new WrapError('invalid', err.message), null);
            }
          },
        )
        .command('docs', 'Print every key with its description and default', {}, () => {
          process.stdout.write(hpcWrapConfigDocs());
        })
        .command(configImportCommand)
        .demandCommand(1, 'config needs a subcommand: check, docs or import'),
    )
    .command(
      'agent',
      false, // hidden: the bridge's long-lived agent (contract/agent.ts)
      (y) => y,
      (a) => runAgent(a.config, VERSION),
    )
    .command(
      'fork-run',
      false, // hidden: the fork adapter's job supervisor
      (y) =>
        y
          .option('job-dir', { type: 'string', demandOption: true })
          .option('script', { type: 'string', demandOption: true })
          .option('output', { type: 'string', demandOption: true })
          .option('chdir', { type: 'string' })
          .option('marker', { type: 'string' }),
      async (a) => {
        try {
          process.exitCode = await forkRun({ jobDir: a['job-dir'], script: a.script, output: a.output, chdir: a.chdir ?? null, marker: a.marker ?? null });
        } catch (err) {
          process.exitCode = reportFailure('fork-run', err, null);
        }
      },
    )
    .demandCommand(1, 'give a command (see --help)')
    .strict()
    .recommendCommands()
    .fail(usageError))
    .version(VERSION)
    .wrap(Math.min(110, process.stdout.columns || 100));
}

export async function runCli(): Promise<void> {
  await buildCli(hideBin(process.argv)).parseAsync();
}
