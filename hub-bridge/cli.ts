// hpc-bridge: the hub-side program. Thin: parse options, build the core, run it.
import { existsSync } from 'node:fs';
import { stringify } from 'yaml';
import { SessionStore } from './store/session-store.js';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { configDocs } from '../config/docs.js';
import { ConfigError, loadHubBridgeConfig, redact } from '../config/load.js';
import { hubBridgeSchema, type HubBridgeConfig } from '../config/schema.js';
import { bundledHpcWrap, createTransport, startBridge } from './bridge.js';
import { formatReport, runDoctor } from './doctor/run-doctor.js';
import { deployCommand } from './deploy/deploy-command.js';
import { batchspawnerSubmit } from './batchspawner/submit-client.js';
import { trustClusterHost } from './transport/ssh-trust.js';
import { createLogger } from './log.js';
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

export async function main(args: string[]): Promise<void> {
  await yargs(args)
    .scriptName('hpc-bridge')
    .usage('$0 <command>\n\nThe hub side of jupyterhub-hpc-bridge: the service JupyterHub talks to, and its admin commands.')
    .option('config', { alias: 'c', type: 'string', describe: 'hub-bridge.yaml to use (or $HPC_BRIDGE_CONFIG); without it, the embedded default' })
    .command('serve', 'Run the bridge service (HTTP API on 127.0.0.1:8099 by default)', {}, (a) => serve(configFile(a)))
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
      'batchspawner-submit',
      "batch_submit_cmd for stock batchspawner: the script on stdin, the spawner env as this process's env; prints the job number",
      (y) =>
        y
          .option('url', { type: 'string', default: 'http://127.0.0.1:8099', describe: 'the bridge API' })
          .option('token-file', { type: 'string', demandOption: true, describe: 'file holding the bridge API token (apiTokenFile)' })
          .option('profile', { type: 'string', describe: 'bridge profile to record the session under (default: the default profile)' })
          .example("$0 batchspawner-submit --token-file /etc/hpc-bridge/api-token < job.sh", 'prints e.g. 42'),
      async (a) => {
        try {
          const n = await batchspawnerSubmit({ url: String(a.url), tokenFile: String(a.tokenFile), profile: typeof a.profile === 'string' ? a.profile : null });
          process.stdout.write(`${n}\n`);
        } catch (err) {
          process.stderr.write(`hpc-bridge batchspawner-submit: ${(err as Error).message}\n`);
          process.exitCode = 1;
        }
      },
    )
    .command(
      'doctor',
      'Check each link of the chain (config, token, login node and host key, hpc-wrap version, scheduler, hub API, tunnel endpoint and host key, port range) and say what to fix',
      (y) => y.option('json', { type: 'boolean', default: false, describe: 'print the results as JSON' }),
      async (a) => {
        const file = configFile(a);
        const config = loadOrExit(file);
        const results = await runDoctor(config, createTransport(config, { configFile: file }), config.cluster.hpcWrap ?? bundledHpcWrap(), {
          liveTunnelPorts: liveTunnelPorts(config.stateDb),
        });
        process.stdout.write(a.json ? `${JSON.stringify({ results }, null, 2)}\n` : formatReport(results));
        process.exitCode = results.every((r) => r.ok) ? 0 : 1;
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
    .version(VERSION)
    .help()
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .parseAsync();
}

main(hideBin(process.argv)).catch((err) => {
  process.stderr.write(`hpc-bridge: ${(err as Error).message}\n`);
  process.exit(1);
});
