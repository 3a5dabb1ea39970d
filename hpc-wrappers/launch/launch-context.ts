// What the user's commands (launch, list, status, url, stop, logs, clean) and the launch
// job get: the site config, the user's own state dir and log (the site's workDir is not
// theirs to write), the scheduler; and how a failure is shown: one line on stderr for
// people, or the contract's JSON with --json. Exit codes as everywhere in hpc-wrap.
import { loadHpcWrapConfig, ConfigError } from '../../config/load-hpc-wrap.js';
import { AppLog } from '../app-log.js';
import { printJson, resolveConfigPath, type CommandContext } from '../command-context.js';
import { asWrapError, errorDocument, WrapError } from '../errors.js';
import { Layout } from '../layout.js';
import { createScheduler } from '../schedulers/registry.js';
import { selfCommand } from '../self-command.js';
import type { SchedulerAdapter } from '../schedulers/types.js';
import { currentUser, expandStateDir, LaunchPaths } from './launch-paths.js';

export interface LaunchContext extends CommandContext {
  paths: LaunchPaths;
  user: { name: string; home: string; uid: number };
}

export function loadLaunchContext(command: string, configFlag: string | undefined): LaunchContext {
  const configPath = resolveConfigPath(configFlag);
  const config = loadHpcWrapConfig(configPath);
  const user = currentUser();
  const paths = new LaunchPaths(expandStateDir(config.launch.stateDir, user.home));
  const log = new AppLog(paths.logFile, config.logging.level, `hpc-wrap ${command}`);
  let scheduler: SchedulerAdapter | null = null;
  const layout = new Layout(config);
  return {
    command,
    config,
    configPath,
    log,
    layout,
    scheduler: () => (scheduler ??= createScheduler(config.scheduler, { forkDir: layout.forkDir, selfCommand: selfCommand() })),
    paths,
    user,
  };
}

export interface UserOutcome {
  /** Printed as is (people). */
  text?: string;
  /** Printed as one JSON line with --json. */
  json?: unknown;
  exitCode?: number;
}

/** Runs a user command: text or JSON on stdout, failures as one stderr line (or JSON), exit code by error kind. */
export async function runUserCommand(
  command: string,
  configFlag: string | undefined,
  json: boolean,
  body: (ctx: LaunchContext) => Promise<UserOutcome>,
): Promise<void> {
  let ctx: LaunchContext | null = null;
  try {
    ctx = loadLaunchContext(command, configFlag);
    const out = await body(ctx);
    if (json && out.json !== undefined) printJson(out.json);
    else if (out.text) process.stdout.write(out.text.endsWith('\n') ? out.text : `${out.text}\n`);
    process.exitCode = out.exitCode ?? 0;
  } catch (err) {
    const e = err instanceof ConfigError ? new WrapError('internal', err.message) : asWrapError(err);
    if (json) printJson(errorDocument(e));
    process.stderr.write(`hpc-wrap ${command}: ${e.message}\n`);
    ctx?.log[e.code === 'internal' ? 'error' : 'warn'](`${command}.failed`, { code: e.code, message: e.message });
    process.exitCode = e.exitCode;
  }
}
