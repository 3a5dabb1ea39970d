// batch_submit_cmd for stock batchspawner: reads the rendered batch script on stdin and the
// spawner's environment (batchspawner passes get_env() as the whole environment of this
// process), creates a bridge session that submits the script as it is, and prints the
// session number the way `sbatch --parsable` prints a job id -- once the job is submitted,
// so that a refusal is this command's error, in the words the student should read.
import { readFileSync } from 'node:fs';
import { splitMessage } from '../sessions/progress-messages.js';

const SHELL_NOISE = new Set(['PWD', 'OLDPWD', 'SHLVL', '_']);

export interface SubmitOptions {
  url: string;
  tokenFile: string;
  profile: string | null;
  /** How long to wait for the bridge to hand the job to the scheduler (default 60 s). */
  waitMs?: number;
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

/**
 * A failure the student reads as it is: batchspawner raises RuntimeError(stderr) and
 * JupyterHub shows it on the progress page, so the CLI prints it without a program prefix.
 */
export class StudentFacingError extends Error {}

const UNREACHABLE =
  'The cluster service does not answer, so your server could not be started and nothing was submitted: try again in a few minutes, and tell support if it persists.';

/** "sentence Details: details" on one line (what the hub shows after "Spawn failed: "). */
function oneParagraph(message: string): string {
  const { sentence, details } = splitMessage(message);
  return details ? `${sentence} Details: ${details.replace(/\s*\n\s*/g, ' | ')}` : sentence;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function batchspawnerSubmit(opts: SubmitOptions): Promise<number> {
  const script = await readStdin();
  const env = spawnerEnv(process.env);
  const user = env.JUPYTERHUB_USER;
  if (!user) throw new Error('JUPYTERHUB_USER is not in the environment: run this as batchspawner\'s batch_submit_cmd (it passes the spawner env)');
  const token = readFileSync(opts.tokenFile, 'utf8').trim();
  const base = opts.url.replace(/\/+$/, '');
  const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  const res = await fetch(`${base}/v1/sessions`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ user, serverName: env.JUPYTERHUB_SERVER_NAME ?? '', ...(opts.profile ? { profile: opts.profile } : {}), env, script }),
    signal: AbortSignal.timeout(60_000),
  }).catch(() => {
    throw new StudentFacingError(UNREACHABLE);
  });
  const body = (await res.json().catch(() => null)) as { id?: string; number?: number; error?: { message?: string } } | null;
  if (!res.ok || typeof body?.number !== 'number' || typeof body.id !== 'string') {
    if (res.status >= 500 || !body?.error?.message) throw new StudentFacingError(UNREACHABLE);
    throw new StudentFacingError(oneParagraph(body.error.message));
  }
  await submissionOutcome(base, headers, body.id, opts.waitMs ?? 60_000);
  return body.number;
}

/**
 * Waits (bounded) until the bridge has handed the job to the scheduler, so that a refusal
 * (bad partition, account, maintenance…) reaches the student as this command's error, in
 * plain words, instead of batchspawner's "job has disappeared". A bridge that stops
 * answering meanwhile is not an error: the job may well be queued; the queries will tell.
 */
async function submissionOutcome(base: string, headers: Record<string, string>, id: string, waitMs: number): Promise<void> {
  const end = Date.now() + waitMs;
  for (let delay = 200; Date.now() < end; delay = Math.min(delay * 2, 2000)) {
    const r = await fetch(`${base}/v1/sessions/${encodeURIComponent(id)}`, { headers, signal: AbortSignal.timeout(10_000) }).catch(() => null);
    const s = r?.ok ? ((await r.json().catch(() => null)) as { state?: string; message?: string | null } | null) : null;
    if (s?.state === 'failed' || s?.state === 'stopped') throw new StudentFacingError(oneParagraph(s.message ?? 'Your server could not be started.'));
    if (s?.state && s.state !== 'submitting') return;
    await sleep(delay);
  }
}
