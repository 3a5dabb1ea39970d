// batch_submit_cmd for stock batchspawner: reads the rendered batch script on stdin and the
// spawner's environment (batchspawner passes get_env() as the whole environment of this
// process), creates a bridge session that submits the script as it is, and prints the
// session number the way `sbatch --parsable` prints a job id.
import { readFileSync } from 'node:fs';

const SHELL_NOISE = new Set(['PWD', 'OLDPWD', 'SHLVL', '_']);

export interface SubmitOptions {
  url: string;
  tokenFile: string;
  profile: string | null;
}

async function readStdin(limit = 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error(`the batch script on stdin is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function spawnerEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !SHELL_NOISE.has(k)) out[k] = v;
  return out;
}

export async function batchspawnerSubmit(opts: SubmitOptions): Promise<number> {
  const script = await readStdin();
  const env = spawnerEnv(process.env);
  const user = env.JUPYTERHUB_USER;
  if (!user) throw new Error('JUPYTERHUB_USER is not in the environment: run this as batchspawner\'s batch_submit_cmd (it passes the spawner env)');
  const token = readFileSync(opts.tokenFile, 'utf8').trim();
  const res = await fetch(`${opts.url.replace(/\/+$/, '')}/v1/sessions`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ user, serverName: env.JUPYTERHUB_SERVER_NAME ?? '', ...(opts.profile ? { profile: opts.profile } : {}), env, script }),
    signal: AbortSignal.timeout(60_000),
  });
  const body = (await res.json().catch(() => null)) as { number?: number; error?: { message?: string } } | null;
  if (!res.ok || typeof body?.number !== 'number') {
    throw new Error(body?.error?.message ?? `the bridge answered HTTP ${res.status}`);
  }
  return body.number;
}
