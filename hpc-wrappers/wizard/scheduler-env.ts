// The wizard's scheduler environment question: `scheduler.env` as NAME=value words, its
// default (the variables of the chosen batch system that are set in the operator's shell,
// e.g. SLURM_CONF on a site without /etc/slurm/slurm.conf), and a probe that runs the query
// command once with exactly that environment, as hpc-wrap will.
import { execFile } from 'node:child_process';
import { SCHEDULER_ENV_VARS } from '../../config/scheduler-env-vars.js';
import { CheckFailed } from './checks.js';

const NAME_RE = /^[A-Z_][A-Z0-9_]*$/;

export function parseEnvAssignments(raw: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const word of raw.split(/\s+/).filter(Boolean)) {
    const eq = word.indexOf('=');
    const name = eq > 0 ? word.slice(0, eq) : '';
    if (!NAME_RE.test(name)) throw new CheckFailed(`"${word}" is not NAME=value (an upper-case variable name, "=", the value; values cannot contain spaces here)`);
    if (/["'`$\\]/.test(word)) throw new CheckFailed(`"${word}": quotes, $ and \\ are shell syntax; give the value literally`);
    env[name] = word.slice(eq + 1);
  }
  return env;
}

/** NAME=value for the chosen scheduler's variables that are set here. */
export function schedulerEnvDefault(kind: string | undefined, from: NodeJS.ProcessEnv = process.env): string {
  return (SCHEDULER_ENV_VARS[kind ?? ''] ?? [])
    .filter((n) => from[n] && !/\s/.test(from[n]!))
    .map((n) => `${n}=${from[n]}`)
    .join(' ');
}

/** null when the query command succeeds with `env` (added to the environment), else why not. */
export function probeScheduler(query: readonly string[], env: Record<string, string>, timeoutMs = 15_000): Promise<string | null> {
  const [program, ...args] = query;
  if (!program) return Promise.resolve(null);
  return new Promise((resolve) => {
    execFile(program, args, { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (!err) return resolve(null);
      const why = String(stderr).trim().split('\n').slice(-1)[0] || err.message;
      const vars = Object.keys(env).length ? `with ${Object.keys(env).join(', ')} set as given` : 'with no extra environment';
      resolve(`${query.join(' ')} failed ${vars}: ${why}`);
    });
  });
}
