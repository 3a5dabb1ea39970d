// The `port-report` step of `hpc-wrap batchspawner-singleuser`: tell stock batchspawner
// where the hub reaches the server, as batchspawner's own batchspawner-singleuser does
// (POST {"port": P} to <JUPYTERHUB_API_URL>/batchspawner with the server's API token;
// JupyterHub's handler, registered by `import batchspawner` in jupyterhub_config.py, sets
// spawner.port, which BatchSpawnerBase.start() waits for).
//
// It is the last step. Its prepare checks, before the server starts, that there is an API
// URL, a token and a port to report; the POST itself is sent once the server LISTENS
// (`listening`): BatchSpawnerBase.start() returns as soon as the port arrives, and the hub
// then looks for the server with a growing back-off (0.2, 0.4, 0.8 ... up to 5 s) — a port
// reported before a Python server that needs seconds to start made the hub find it up to
// ~5 s late (seen in the spawn benchmark). The tunnel (if any) is up by then, so the POST
// goes to the tunnel's node end of the API forward and P is the hub-side end of the
// reverse forward (tunnel.remotePort), else the node-side port. A report that fails stops
// the server: the job ends with the reason.
// Unlike batchspawner-singleuser it sends ONLY `port` (the handler setattr()s every key
// it gets), checks the answer, and retries connection errors and 5xx (a restarting hub,
// a tunnel reconnecting) with backoff for up to 30 s instead of silently losing the port.
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { EnvironmentContext, EnvironmentStep } from './steps.js';

export interface PortReportTiming {
  /** Give up after this long (from the first attempt). */
  deadlineMs: number;
  /** First pause between attempts; doubles up to maxBackoffMs. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** One attempt's limit (connect + answer). */
  attemptTimeoutMs: number;
}

export const DEFAULT_PORT_REPORT_TIMING: PortReportTiming = { deadlineMs: 30_000, initialBackoffMs: 250, maxBackoffMs: 4_000, attemptTimeoutMs: 10_000 };

/** batchspawner's url_path_join(JUPYTERHUB_API_URL, "batchspawner"). */
export function batchspawnerApiUrl(apiUrl: string): URL {
  let u: URL;
  try {
    u = new URL(apiUrl);
  } catch {
    throw new Error('JUPYTERHUB_API_URL is not a valid URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`JUPYTERHUB_API_URL must be an http(s) URL, not ${u.protocol}`);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/batchspawner`;
  return u;
}

/** The port the HUB connects to: the hub-side tunnel end, else the server's own port. */
export function hubFacingPort(ctx: Pick<EnvironmentContext, 'job' | 'port'>): number {
  if (ctx.job.tunnel) return ctx.job.tunnel.remotePort;
  if (ctx.port === null) throw new Error('no server port to report: the server-port step must run before port-report');
  return ctx.port;
}

interface TlsFiles {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
}

/** JUPYTERHUB_SSL_CERTFILE + KEYFILE (client certificate, both or neither) and CLIENT_CA (verifies the hub), as HubAuth reads them. */
function tlsFiles(env: Record<string, string>): TlsFiles {
  const read = (name: string): Buffer | undefined => {
    const path = env[name];
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`${name}=${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const out: TlsFiles = {};
  if (env.JUPYTERHUB_SSL_CERTFILE && env.JUPYTERHUB_SSL_KEYFILE) {
    out.cert = read('JUPYTERHUB_SSL_CERTFILE');
    out.key = read('JUPYTERHUB_SSL_KEYFILE');
  }
  out.ca = read('JUPYTERHUB_SSL_CLIENT_CA');
  return out;
}

interface Answer {
  status: number;
  body: string;
}

function post(url: URL, body: string, token: string, tls: TlsFiles, timeoutMs: number): Promise<Answer> {
  const options: RequestOptions & TlsFiles = {
    method: 'POST',
    agent: false,
    headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    timeout: timeoutMs,
    ...(url.protocol === 'https:' ? tls : {}),
  };
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, options, (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (text.length < 4096) text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}

/** A certificate problem does not go away by retrying. */
function isTlsFailure(err: NodeJS.ErrnoException): boolean {
  return /^ERR_TLS_|CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_SSL_/.test(err.code ?? '');
}

/** One line of the hub's answer for a message (never the token; not an HTML error page). */
function snippet(body: string, token: string): string {
  if (/^\s*</.test(body)) return '';
  let text = body.replace(/\s+/g, ' ').trim();
  if (token) text = text.split(token).join('***');
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Why a definite refusal happened and what to do about it. */
function refusal(status: number, body: string, url: URL): string {
  const said = body ? `: ${body}` : '';
  if (status === 404) {
    return `the hub has no batchspawner API at ${url.href} (HTTP 404${said}); add \`import batchspawner\` to jupyterhub_config.py, which registers the handler (batchspawner #126)`;
  }
  if (status === 401 || status === 403) {
    return `the hub refused this server's API token at ${url.href} (HTTP ${status}${said}); the spawn was probably stopped or restarted meanwhile`;
  }
  return `the hub refused the port report at ${url.href} (HTTP ${status}${said})`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Attempt = { ok: true; status: number } | { ok: false; final: boolean; problem: string };

async function attempt(url: URL, body: string, token: string, tls: TlsFiles, timeoutMs: number): Promise<Attempt> {
  let answer: Answer;
  try {
    answer = await post(url, body, token, tls, timeoutMs);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (isTlsFailure(e)) {
      return { ok: false, final: true, problem: `TLS to the hub at ${url.href} failed: ${e.message} (JUPYTERHUB_SSL_CLIENT_CA must be the CA of the hub's certificate)` };
    }
    return { ok: false, final: false, problem: e.message || e.code || String(err) };
  }
  if (answer.status >= 200 && answer.status < 300) return { ok: true, status: answer.status };
  const said = snippet(answer.body, token);
  if (answer.status >= 500 || answer.status === 429) return { ok: false, final: false, problem: `HTTP ${answer.status}${said ? `: ${said}` : ''}` };
  return { ok: false, final: true, problem: refusal(answer.status, said, url) };
}

export function createPortReportStep(timing: Partial<PortReportTiming> = {}): EnvironmentStep {
  const t = { ...DEFAULT_PORT_REPORT_TIMING, ...timing };
  /** What to send where; throws when something is missing (checked before the server starts). */
  const plan = (ctx: EnvironmentContext) => {
    const apiUrl = ctx.env.JUPYTERHUB_API_URL;
    const token = ctx.env.JUPYTERHUB_API_TOKEN;
    if (!apiUrl) throw new Error('JUPYTERHUB_API_URL is not set: the hub passes it in the spawner environment; it is where the port goes');
    if (!token) throw new Error('JUPYTERHUB_API_TOKEN is not set: the hub passes it in the spawner environment; the port report needs it');
    const url = batchspawnerApiUrl(apiUrl);
    return { url, token, port: hubFacingPort(ctx), tls: url.protocol === 'https:' ? tlsFiles(ctx.env) : {} };
  };
  return {
    name: 'port-report',
    async prepare(ctx) {
      plan(ctx);
    },
    async listening(ctx) {
      const { url, token, port, tls } = plan(ctx);
      const body = JSON.stringify({ port });
      const via = ctx.job.tunnel ? ` (through the tunnel; the hub connects to its 127.0.0.1:${port})` : '';
      ctx.say(`reporting port ${port} to the hub: POST ${url.href}${via}`);

      const start = Date.now();
      let backoff = t.initialBackoffMs;
      let lastProblem = '';
      for (let n = 1; ; n++) {
        const left = t.deadlineMs - (Date.now() - start);
        const r = await attempt(url, body, token, tls, Math.max(1_000, Math.min(t.attemptTimeoutMs, left)));
        if (r.ok) {
          ctx.say(`the hub accepted port ${port} (HTTP ${r.status}${n > 1 ? `, attempt ${n}` : ''})`);
          ctx.log.info('start-env.port-reported', { sessionId: ctx.job.sessionId, user: ctx.job.user, port, attempts: n, tunnel: Boolean(ctx.job.tunnel) });
          return;
        }
        if (r.final) throw new Error(r.problem);
        const remaining = t.deadlineMs - (Date.now() - start);
        if (remaining <= 0) {
          throw new Error(
            `could not report port ${port} to the hub at ${url.href} within ${Math.round(t.deadlineMs / 1000)} s (${n} attempts; last: ${r.problem}); ` +
              'the hub cannot find this server and gives up at its start_timeout. ' +
              (ctx.job.tunnel
                ? 'Check that JupyterHub runs and that hubApiUrl in hub-bridge.yaml is its API.'
                : 'Check that JUPYTERHUB_API_URL (c.JupyterHub.hub_connect_url) is reachable from the compute node.'),
          );
        }
        if (r.problem !== lastProblem) ctx.say(`the hub did not take the port yet (${r.problem}); retrying for up to ${Math.ceil(remaining / 1000)} s`);
        lastProblem = r.problem;
        await sleep(Math.min(backoff, remaining));
        backoff = Math.min(backoff * 2, t.maxBackoffMs);
      }
    },
  };
}

export const portReportStep: EnvironmentStep = createPortReportStep();
