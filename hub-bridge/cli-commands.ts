// hpc-bridge's command line (yargs), loaded by cli.ts when there is more to do than
// print the version. Thin: parse options, build the core, run it.
import { existsSync } from 'node:fs';
import { stringify } from 'yaml';
import { SessionStore } from './store/session-store.js';
import yargs from 'yargs';
import { answerFailure, helpAfterValidation } from '../contract/cli-usage.js';
import { hideBin } from 'yargs/helpers';
import { configDocs } from '../config/docs.js';
import { ConfigError, loadHubBridgeConfig, redact } from '../config/load.js';
import { hubBridgeSchema, type HubBridgeConfig } from '../config/schema.js';
import { bundledHpcWrap, createTransport, startBridge } from './bridge.js';
import { formatReport, runDoctor } from './doctor/run-doctor.js';
import { deployCommand } from './deploy/deploy-command.js';
import { tryCommand } from './try/try-command.js';
import { trustClusterHost } from './transport/ssh-trust.js';
import { createLogger } from './log.js';
import { pruneCommand, usageCommand } from './accounting/admin-commands.js';
import { gatewayCommand } from './gateway/gateway-command.js';
import { VERSION } from './version.js';

function configFile(argv: object): string | null {
  const { config } = argv as { config?: unknown };
  return (typeof config === 'string' ? config : undefined) ?? process.env.HPC_BRIDGE_CONFIG ?? null;
}

/** Tunnel ports held by live sessions (read from the bridge's database, which may be in use). */
function liveTunnelPorts(stateDb: string): number {
  if (!existsSync(stateDb)) return 0;
  const store = new SessionStore(stateDb);
  try {
    return store.live().filter((s) => s.tunnelPort !== null).length;
  } finally {
    store.close();
  }
}

function loadOrExit(file: string | null): HubBridgeConfig {
  try {
    return loadHubBridgeConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

async function serve(file: string | null): Promise<void> {
  const config = loadOrExit(file);
  const log = createLogger(config.log.level);
  if (!file) {
    process.stderr.write(
      'hpc-bridge: no --config given, running the embedded default: SQLite in .state/, local transport, ' +
        "the local 'fork' scheduler (jobs are plain processes on this machine, not a batch system).\n",
    );
  }
  const bridge = await startBridge(config, log, { transport: createTransport(config, { configFile: file }) });
  process.stderr.write(`hpc-bridge ${VERSION} listening on ${bridge.url} (token in ${config.apiTokenFile})\n`);
  let stopping = false;
  const shutdown = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, 'shutting down; running jobs are left alone and picked up again on restart');
    bridge.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

async function clusterTrust(file: string | null, yes: boolean, fingerprint: string | null): Promise<void> {
  const config = loadOrExit(file);
  const t = config.cluster.transport;
  if (t.kind !== 'ssh') {
    process.stderr.write(`cluster trust needs cluster.transport.kind: ssh in ${file ?? 'the config'} (it is "${t.kind}")\n`);
    process.exitCode = 2;
    return;
  }
  process.exitCode = await trustClusterHost(t, { yes, fingerprint, configFile: file, out: (s) => process.stdout.write(s) });
}

const stdio = { out: (t: string) => void process.stdout.write(t), err: (t: string) => void process.stderr.write(t) };

/** A command-line mistake: exit 2 with the reason (help instead, when asked for and no command was given; contract/cli-usage.ts). */
function usageFailure(args: readonly string[]) {
  return (msg: string | null, err: Error | undefined, y: { showHelp(out: (s: string) => void): void }): void => {
    const answer = answerFailure(args, msg, err);
    if (!answer) throw err;
    if (answer.help) {
      y.showHelp((s) => process.stdout.write(`${s}\n`));
      process.exit(0);
    }
    process.stderr.write(`hpc-bridge: ${answer.message}\nRun \`hpc-bridge --help\` for usage.\n`);
    process.exit(2);
  };
}

export async function main(args: string[]): Promise<void> {
  const cli = yargs(args);
  // help last among the options, as --help lists them
  await helpAfterValidation(cli
    .scriptName('hpc-bridge')
    .usage('$0 <command>\n\nThe hub side of jupyterhub-hpc-bridge: the service JupyterHub talks to, and its admin commands.')
    .option('config', { alias: 'c', type: 'string', describe: 'hub-bridge.yaml to use (or $HPC_BRIDGE_CONFIG); without it, the embedded default' })
    .command('serve', 'Run the bridge service (HTTP API on 127.0.0.1:8099 by default)', {}, (a) => serve(configFile(a)))
    .command('gateway', 'Run the HTTPS gateway that gives each `hpc-wrap launch` a one-time URL (the `gateway` section; docs/launch.md)', {}, (a) =>
      gatewayCommand(loadOrExit(configFile(a)), configFile(a)),
    )
    .command('config <action>', 'Check or document hub-bridge.yaml', (y) =>
      y.positional('action', { choices: ['check', 'docs'] as const, describe: 'check: print the effective config or its errors; docs: every key with its description' }),
      (a) => {
        if (a.action === 'docs') {
          process.stdout.write(configDocs(hubBridgeSchema, 'hub-bridge.yaml'));
          return;
        }
        const cfg = loadOrExit(configFile(a));
        process.stdout.write(`# effective configuration (${configFile(a) ?? 'embedded defaults'}); secrets redacted\n${stringify(redact(cfg))}`);
      })
    .command(
      'doctor',
      'Check each link of the chain (config, token, login node and host key, hpc-wrap version, scheduler, hub API, tunnel endpoint and host key, port range) and say what to fix',
      (y) =>
        y
          .option('json', { type: 'boolean', default: false, describe: 'print the results as JSON' })
          .option('cluster-only', { type: 'boolean', default: false, describe: 'check only the cluster side (login node, hpc-wrap, scheduler, work dir): before JupyterHub and the bridge run' })
          .example('$0 --config hub-bridge.yaml doctor --cluster-only', 'after deploy, before JupyterHub is set up')
          .epilog('Exit status: 0 when every check passes (WARN included), 1 when one fails, 2 for a config error.'),
      async (a) => {
        const file = configFile(a);
        const config = loadOrExit(file);
        const clusterOnly = a['cluster-only'] === true;
        const results = await runDoctor(config, createTransport(config, { configFile: file }), config.cluster.hpcWrap ?? bundledHpcWrap(), {
          liveTunnelPorts: clusterOnly ? 0 : liveTunnelPorts(config.stateDb),
          clusterOnly,
        });
        process.stdout.write(a.json ? `${JSON.stringify({ results }, null, 2)}\n` : formatReport(results, { clusterOnly }));
        process.exitCode = results.every((r) => r.ok) ? 0 : 1;
      },
    )
    .command(
      'try',
      'Smoke test: start a throw-away session through the running bridge (transport, scheduler, start-env, port, tunnel) with a stand-in server, print each phase with its time, stop it',
      (y) =>
        y
          .option('user', { type: 'string', default: 'hpcbridgetry', requiresArg: true, describe: 'JupyterHub user the session is for (with identity sudo: a real account on the cluster)' })
          .option('profile', { type: 'string', requiresArg: true, describe: 'profile to use (default: defaultProfile, else the first)' })
          .option('timeout', { type: 'number', default: 300, describe: 'seconds to wait for the session to be ready (queue wait included)' })
          .example('$0 --config /etc/hpc-bridge/hub-bridge.yaml try', 'after doctor, with the bridge running')
          .epilog('Exit status: 0 passed, 1 a link failed (said in plain words), 130 interrupted (the session is stopped in every case).'),
      async (a) => {
        const config = loadOrExit(configFile(a));
        process.exitCode = await tryCommand(config, {
          user: a.user,
          profile: a.profile ?? null,
          timeoutSeconds: a.timeout,
          hpcWrap: config.cluster.hpcWrap ?? bundledHpcWrap(),
          out: (t) => process.stdout.write(t),
          err: (t) => process.stderr.write(t),
        });
      },
    )
    .command(
      'deploy',
      'Push the built hpc-wrap (and optionally hpc-wrap.yaml) to the login node over the transport and switch <dest>/current to it atomically',
      (y) =>
        y
          .option('config-file', { type: 'string', requiresArg: true, describe: 'hpc-wrap.yaml to deploy with it (validated first); default: keep the current version\'s' })
          .option('dest', { type: 'string', requiresArg: true, describe: 'deploy directory on the cluster side (default: <dest> of cluster.hpcWrap\'s <dest>/current/hpc-wrap.mjs)' })
          .option('bundle', { type: 'string', requiresArg: true, describe: 'hpc-wrap bundle to deploy (default: the hpc-wrap.mjs built next to hpc-bridge)' })
          .option('keep', { type: 'number', default: 3, describe: 'versions to keep, the current one included' })
          .option('dry-run', { type: 'boolean', default: false, describe: 'print what would be done, change nothing' })
          .example('$0 --config hub-bridge.yaml deploy --config-file hpc-wrap.yaml', 'deploy to the directory cluster.hpcWrap runs from'),
      async (a) => {
        const file = configFile(a);
        process.exitCode = await deployCommand(loadOrExit(file), {
          configFile: file,
          dest: a.dest ?? null,
          hpcConfig: a.configFile ?? null,
          bundle: a.bundle ?? null,
          defaultBundle: () => bundledHpcWrap()[1]!,
          keep: a.keep,
          dryRun: a.dryRun,
          out: (t) => process.stdout.write(t),
          err: (t) => process.stderr.write(t),
        });
      },
    )
    .command(
      'usage',
      'CPU-hours, GPU-hours, sessions and median queue wait per user, profile, account or day (from the scheduler accounting where it has a record; the same as GET /v1/usage)',
      (y) =>
        y
          .option('from', { type: 'string', requiresArg: true, describe: 'start (inclusive): 2026-11-01 (UTC) or an ISO date-time; default: 30 days before --to' })
          .option('to', { type: 'string', requiresArg: true, describe: 'end (exclusive); default: now' })
          .option('by', { choices: ['user', 'profile', 'account', 'day'] as const, default: 'user' as const, describe: 'group by' })
          .option('csv', { type: 'boolean', describe: 'print CSV' })
          .option('json', { type: 'boolean', describe: 'print the JSON report (as GET /v1/usage)' })
          .conflicts('csv', 'json')
          .example('$0 --config hub-bridge.yaml usage --from 2026-11-01 --to 2026-12-01 --by account --csv', 'a month per account'),
      (a) => {
        process.exitCode = usageCommand(loadOrExit(configFile(a)), { from: a.from, to: a.to, by: a.by, csv: a.csv === true, json: a.json === true }, stdio);
      },
    )
    .command(
      'prune',
      'Forget sessions that ended, their events and jobs, older than --older-than (live sessions are never touched); for cron or a systemd timer',
      (y) =>
        y
          .option('older-than', { type: 'string', demandOption: true, requiresArg: true, describe: 'age such as 90d, 12h (units s, m, h, d, w)' })
          .option('dry-run', { type: 'boolean', default: false, describe: 'count, remove nothing' })
          .option('json', { type: 'boolean', default: false, describe: 'print the counts as JSON' })
          .example('$0 --config /etc/hpc-bridge/hub-bridge.yaml prune --older-than 180d', 'daily (docs/retention.md)'),
      (a) => {
        process.exitCode = pruneCommand(loadOrExit(configFile(a)), { olderThan: String(a['older-than']), dryRun: a['dry-run'], json: a.json }, stdio);
      },
    )
    .command('cluster <action>', "Cluster access: trust = record the login node's SSH host key in knownHostsFile", (y) =>
      y
        .positional('action', { choices: ['trust'] as const, describe: 'trust: connect once, show the host key fingerprint, record it when confirmed' })
        .option('fingerprint', { type: 'string', describe: 'record the key only if it has this SHA256:... fingerprint (verified out of band)' })
        .option('yes', { type: 'boolean', default: false, describe: 'record the key without a fingerprint check (only on a network you trust)' }),
      (a) => clusterTrust(configFile(a), a.yes, a.fingerprint ?? null))
    .example('$0 serve', 'run on the embedded default (fork scheduler, SQLite in .state/)')
    .example('$0 --config /etc/hpc-bridge/hub-bridge.yaml serve', 'run with a site config')
    .example('$0 --config hub-bridge.yaml config check', 'validate a config file')
    .example('$0 --config hub-bridge.yaml cluster trust --fingerprint SHA256:...', "trust the login node's SSH host key after checking it")
    .demandCommand(1, 'give a command; see --help')
    .strict()
    .version(VERSION))
    .fail(usageFailure(args))
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .parseAsync();
}

export function runCli(): void {
  main(hideBin(process.argv)).catch((err) => {
    process.stderr.write(`hpc-bridge: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
