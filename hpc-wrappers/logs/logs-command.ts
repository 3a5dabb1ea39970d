// `hpc-wrap logs` (the old jh_show_log / `jh_wrapper showlog`): the application log,
// printed for people and filtered by user or job, or the output log of one job (by its
// id, or the newest session of a user); --follow keeps printing new lines until Ctrl-C.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NameError, validateJobId, validateUsername } from '../../contract/names.js';
import type { CommandContext } from '../command-context.js';
import { WrapError } from '../errors.js';
import { runDirPaths } from '../layout.js';
import { EntryFilter, formatLine } from './app-log-view.js';
import { followLines, lastLines } from './log-lines.js';

export interface LogsOptions {
  follow: boolean;
  user: string | undefined;
  job: string | undefined;
  lines: number;
  jobOutput: boolean;
}

function checked<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof NameError) throw new WrapError('invalid', err.message);
    throw err;
  }
}

/** The output.log of the job, or of the user's newest session. */
export function jobOutputFile(ctx: CommandContext, user: string | null, job: string | null): string {
  const { layout } = ctx;
  if (job !== null) {
    const found = checked(() => layout.findRunDirs([job])).get(job);
    if (!found) throw new WrapError('invalid', `no job ${job} under ${layout.usersDir}: hpc-wrap knows the jobs it submitted (see \`hpc-wrap logs --user U\`)`);
    if (user !== null && found.user !== user) throw new WrapError('invalid', `job ${job} is not a job of ${user}`);
    return runDirPaths(found.runDir).outputLog;
  }
  const sessionsDir = join(layout.userDir(user!), 'sessions');
  let newest: { file: string; time: number } | null = null;
  let names: string[] = [];
  try {
    names = readdirSync(sessionsDir);
  } catch {
    /* no sessions yet */
  }
  for (const name of names) {
    const dir = join(sessionsDir, name);
    const paths = runDirPaths(dir);
    let time: number;
    try {
      time = Math.max(statSync(dir).mtimeMs, statSync(paths.outputLog).mtimeMs);
    } catch {
      time = 0;
    }
    if (!newest || time > newest.time) newest = { file: paths.outputLog, time };
  }
  if (!newest) throw new WrapError('invalid', `${user} has no sessions in ${layout.usersDir}`);
  return newest.file;
}

/** Prints the last lines, then follows; resolves when done (or on SIGINT while following). */
export async function showLogs(ctx: CommandContext, opts: LogsOptions): Promise<void> {
  const user = opts.user === undefined ? null : checked(() => validateUsername(opts.user));
  const job = opts.job === undefined ? null : checked(() => validateJobId(opts.job));
  if (!Number.isInteger(opts.lines) || opts.lines < 0) throw new WrapError('invalid', `--lines must be a whole number ≥ 0, not ${opts.lines}`);
  let file: string;
  let keep: (line: string) => boolean;
  let format: (line: string) => string;
  if (opts.jobOutput) {
    if (user === null && job === null) throw new WrapError('invalid', '--job-output needs --job ID or --user NAME (the newest session of that user)');
    file = jobOutputFile(ctx, user, job);
    keep = () => true;
    format = (l) => l;
  } else {
    file = ctx.config.logging.file ?? join(ctx.config.workDir, 'log', 'hpc-wrap.log');
    const filter = new EntryFilter(ctx.layout, user, job);
    keep = (l) => filter.keep(l);
    format = formatLine;
  }
  const out = (line: string) => process.stdout.write(`${format(line)}\n`);
  const { lines, end } = lastLines(file, opts.lines, keep, opts.follow);
  lines.forEach(out);
  if (!existsSync(file)) process.stderr.write(`hpc-wrap logs: ${file} does not exist (yet)\n`);
  if (!opts.follow) return;
  process.stderr.write(`-- following ${file} (Ctrl-C to stop)\n`);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await followLines(file, { from: end, signal: stop.signal, onLine: (l) => keep(l) && out(l) });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
