// The only place scheduler commands are executed: an argv array (never a shell), stdin
// closed, a timeout, the configured extra environment. execa loads on the first command:
// start-env and the other commands that build a scheduler without running one skip it.

export interface CommandResult {
  ok: boolean;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** A one-line description of the failure (spawn error, timeout, exit code), or null. */
  failure: string | null;
}

export interface RunOptions {
  env?: Record<string, string>;
  timeoutMs: number;
}

export async function runArgv(argv: readonly string[], opts: RunOptions): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('runArgv: empty argv');
  const { execa } = await import('execa');
  const r = await execa(file, args, {
    env: opts.env ?? {},
    extendEnv: true,
    stdin: 'ignore',
    timeout: opts.timeoutMs,
    forceKillAfterDelay: 2000,
    reject: false,
    shell: false,
    maxBuffer: 256 * 1024 * 1024,
    encoding: 'utf8',
    stripFinalNewline: false,
  });
  const stdout = typeof r.stdout === 'string' ? r.stdout : '';
  const stderr = typeof r.stderr === 'string' ? r.stderr : '';
  const timedOut = Boolean(r.timedOut);
  let failure: string | null = null;
  if (timedOut) failure = `${file} did not answer within ${Math.round(opts.timeoutMs / 1000)} s and was killed`;
  else if (r.failed && r.exitCode === undefined) failure = `${file} could not be run: ${r.shortMessage ?? r.message ?? 'unknown error'}`;
  else if (r.failed) failure = `${file} exited with status ${r.exitCode ?? r.signal ?? '?'}`;
  return { ok: !r.failed, exitCode: r.exitCode ?? null, stdout, stderr, timedOut, failure };
}

/** The scheduler's own words for an error message: stderr (else stdout), trimmed and bounded. */
export function schedulerMessage(r: CommandResult): string {
  const text = (r.stderr.trim() || r.stdout.trim()).slice(-2000);
  return [r.failure, text].filter(Boolean).join(': ');
}
