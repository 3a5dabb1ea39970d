// Runs a Node program (a bundle of dist/, with its arguments) to its end, as an operator's
// shell would, and hands back its exit code and output: for tests of the command lines.
// The config-file variables of both programs are cleared unless the caller sets them.
import { execFile } from 'node:child_process';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runNode(argv: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  const env = opts.env ?? { ...process.env, HPC_BRIDGE_CONFIG: '', HPC_WRAP_CONFIG: '' };
  return new Promise((res) => {
    execFile(process.execPath, argv, { timeout: opts.timeoutMs ?? 60_000, env, cwd: opts.cwd }, (err, stdout, stderr) =>
      res({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}
