// What every command gets: the effective config (from --config, else $HPC_WRAP_CONFIG,
// else the embedded defaults), the application log, the layout and the scheduler; and
// runCommand, which reports a failure through failure-report.ts.
import { resolve } from 'node:path';
import { loadHpcWrapConfig } from '../config/load-hpc-wrap.js';
import type { HpcWrapConfig } from '../config/schema-hpc-wrap.js';
import { AppLog } from './app-log.js';
import { printJson, reportFailure } from './failure-report.js';
import { Layout } from './layout.js';
import { createScheduler } from './schedulers/registry.js';
import { selfCommand } from './self-command.js';
import type { SchedulerAdapter } from './schedulers/types.js';

export interface CommandContext {
  command: string;
  config: HpcWrapConfig;
  /** Absolute path of the config file, or null for the embedded defaults. */
  configPath: string | null;
  log: AppLog;
  layout: Layout;
  scheduler(): SchedulerAdapter;
}

export function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  const p = flag ?? env.HPC_WRAP_CONFIG;
  return p ? resolve(p) : null;
}

export function loadContext(command: string, configFlag: string | undefined): CommandContext {
  const configPath = resolveConfigPath(configFlag);
  const config = loadHpcWrapConfig(configPath);
  const log = new AppLog(config.logging.file ?? resolve(config.workDir, 'log', 'hpc-wrap.log'), config.logging.level, `hpc-wrap ${command}`);
  let scheduler: SchedulerAdapter | null = null;
  const layout = new Layout(config);
  return {
    command,
    config,
    configPath,
    log,
    layout,
    scheduler: () => (scheduler ??= createScheduler(config.scheduler, { forkDir: layout.forkDir, selfCommand: selfCommand() })),
  };
}

export { failureDocument, printJson, reportFailure } from './failure-report.js';

export interface CommandOutcome {
  /** Printed as one JSON line on stdout. */
  output?: unknown;
  exitCode?: number;
}

/** Loads the context, runs `body`, prints its output or the failure, sets the exit code. */
export async function runCommand(
  command: string,
  configFlag: string | undefined,
  body: (ctx: CommandContext) => Promise<CommandOutcome>,
): Promise<void> {
  let ctx: CommandContext | null = null;
  try {
    ctx = loadContext(command, configFlag);
    const outcome = await body(ctx);
    if (outcome.output !== undefined) printJson(outcome.output);
    process.exitCode = outcome.exitCode ?? 0;
  } catch (err) {
    process.exitCode = reportFailure(command, err, ctx?.log ?? null);
  }
}
