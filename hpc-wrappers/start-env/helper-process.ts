// Runs the helper programs of the environment steps (Lmod, conda, conda-unpack, mount,
// umount): an argv array (no shell), an explicit environment (nothing inherited), stdin
// closed, and a hard timeout. The helper leads its own process group so that a timeout
// also kills what it forked (mount.davfs before it daemonizes); a job-control signal
// start-env receives meanwhile is passed on to that group.
import { spawn } from 'node:child_process';
import { RELAYED_SIGNALS } from './server-process.js';

export interface HelperResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** The program could not be started (ENOENT, EACCES …), else null. */
  spawnError: string | null;
}

export interface HelperOptions {
  env: Record<string, string>;
  timeoutMs: number;
  cwd?: string;
  /** Called with each complete output line (stdout and stderr) while the helper runs. */
  onLine?: (line: string) => void;
  /** Output kept per stream (the tail); default 1 MiB. */
  maxBytes?: number;
  /** latin1 keeps one char per byte (for parsers that decode escapes themselves); default utf8. */
  encoding?: 'utf8' | 'latin1';
}

/** True when the helper ran and exited 0. */
export const succeeded = (r: HelperResult): boolean => r.spawnError === null && !r.timedOut && r.exitCode === 0;

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

export function runHelper(argv: readonly string[], opts: HelperOptions): Promise<HelperResult> {
  const [file, ...args] = argv;
  if (!file) return Promise.resolve({ exitCode: null, signal: null, stdout: '', stderr: '', timedOut: false, spawnError: 'empty command' });
  const max = opts.maxBytes ?? 1024 * 1024;
  return new Promise((resolve) => {
    const child = spawn(file, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true, shell: false });
    const out = { stdout: '', stderr: '' };
    const partial = { stdout: '', stderr: '' };
    let timedOut = false;
    let done = false;
    const collect = (stream: 'stdout' | 'stderr') => (chunk: string) => {
      out[stream] = (out[stream] + chunk).slice(-max);
      if (!opts.onLine) return;
      const lines = (partial[stream] + chunk).split('\n');
      partial[stream] = lines.pop() ?? '';
      for (const l of lines) opts.onLine(l);
    };
    child.stdout.setEncoding(opts.encoding ?? 'utf8').on('data', collect('stdout'));
    child.stderr.setEncoding('utf8').on('data', collect('stderr'));

    const forward = new Map<NodeJS.Signals, () => void>();
    for (const sig of RELAYED_SIGNALS) {
      const h = () => killGroup(child.pid, sig);
      forward.set(sig, h);
      process.on(sig, h);
    }
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), 2000);
    }, opts.timeoutMs);

    const finish = (r: Omit<HelperResult, 'stdout' | 'stderr' | 'timedOut'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      for (const [sig, h] of forward) process.off(sig, h);
      if (opts.onLine) for (const rest of [partial.stdout, partial.stderr]) if (rest) opts.onLine(rest);
      resolve({ ...r, stdout: out.stdout, stderr: out.stderr, timedOut });
    };
    child.once('error', (err) => finish({ exitCode: null, signal: null, spawnError: err.message }));
    child.once('exit', (code, signal) => {
      if (timedOut) killGroup(child.pid, 'SIGKILL'); // whatever it forked goes too
      // A daemon it forked may hold the pipes open: wait briefly for them, never forever.
      const grace = setTimeout(() => finish({ exitCode: code, signal, spawnError: null }), 500);
      child.once('close', () => {
        clearTimeout(grace);
        finish({ exitCode: code, signal, spawnError: null });
      });
    });
  });
}

/** The helper's own words for an error message: stderr (else stdout), trimmed to the last lines. */
export function helperMessage(r: HelperResult, maxLines = 8): string {
  const text = (r.stderr.trim() || r.stdout.trim()).split('\n').filter((l) => l.trim() !== '');
  return text.slice(-maxLines).join(' | ').slice(-1500);
}

/** Why a helper failed, in one phrase: could not start, timed out, signal or exit status. */
export function helperFailure(what: string, r: HelperResult, timeoutMs: number): string {
  if (r.spawnError) return `cannot run ${what}: ${r.spawnError}`;
  if (r.timedOut) return `${what} did not finish within ${Math.round(timeoutMs / 1000)} s and was killed`;
  if (r.signal) return `${what} was killed by ${r.signal}`;
  return `${what} exited with status ${r.exitCode}`;
}
