// hpc-bridge: the hub-side program. Thin: parse options, build the core, run it.
import { stringify } from 'yaml';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { configDocs } from '../config/docs.js';
import { ConfigError, loadHubBridgeConfig, redact } from '../config/load.js';
import { hubBridgeSchema, type HubBridgeConfig } from '../config/schema.js';
import { startBridge } from './bridge.js';
import { createLogger } from './log.js';
import { VERSION } from './version.js';

function configFile(argv: object): string | null {
  const { config } = argv as { config?: unknown };
  return (typeof config === 'string' ? config : undefined) ?? process.env.HPC_BRIDGE_CONFIG ?? null;
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
  const bridge = await startBridge(config, log);
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
    .example('$0 serve', 'run on the embedded default (fork scheduler, SQLite in .state/)')
    .example('$0 --config /etc/hpc-bridge/hub-bridge.yaml serve', 'run with a site config')
    .example('$0 --config hub-bridge.yaml config check', 'validate a config file')
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
