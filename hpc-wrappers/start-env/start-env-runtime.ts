// What start-env needs besides the run dir: its log, the identity mode, the variable its
// job id is in, the log level. A job submitted by this hpc-wrap carries them in job.json
// (`runtime`, resolved by startjob), so the job's start reads no hpc-wrap.yaml: no YAML
// parse, no config schema, no scheduler registry — the bulk of its start-up cost after
// Node's own (test/bench/startup-cost.ts). A job without them (submitted by an older
// hpc-wrap, or a launch) takes them from the config as before.
import type { CommandContext } from '../command-context.js';
import { AppLog, LOG_LEVELS, type LogLevel } from '../app-log.js';
import { isRecord, readJsonOrNull } from '../json-files.js';
import { runDirPaths } from '../layout.js';
import type { JobRuntime } from '../startjob/job-description.js';

export interface StartEnvRuntime {
  /** The application log until job.json names the job's own. */
  log: AppLog;
  logLevel: LogLevel;
  perUser: boolean;
  /** Asked only when needed (from the config: builds the scheduler). */
  jobIdVariable(): string;
}

export function runtimeFromContext(ctx: CommandContext): StartEnvRuntime {
  return { log: ctx.log, logLevel: ctx.config.logging.level, perUser: ctx.layout.perUser, jobIdVariable: () => ctx.scheduler().jobIdVariable };
}

/**
 * The runtime job.json carries, checked field by field (the whole file is validated with its
 * schema when start-env consumes the spool); null when the file is missing, unreadable or
 * has none — the caller then loads the config, whose errors say what is wrong.
 */
export function runtimeFromJob(runDir: string, command: string): StartEnvRuntime | null {
  const job = readJsonOrNull(runDirPaths(runDir).jobFile);
  const rt = isRecord(job) ? job.runtime : undefined;
  if (!isRecord(rt)) return null;
  const { perUser, jobIdVariable, logLevel, logFile } = rt as Partial<Record<keyof JobRuntime, unknown>>;
  if (typeof perUser !== 'boolean' || typeof jobIdVariable !== 'string' || jobIdVariable === '') return null;
  if (!(LOG_LEVELS as readonly unknown[]).includes(logLevel) || typeof logFile !== 'string' || logFile === '') return null;
  const level = logLevel as LogLevel;
  return { log: new AppLog(logFile, level, `hpc-wrap ${command}`), logLevel: level, perUser, jobIdVariable: () => jobIdVariable };
}
