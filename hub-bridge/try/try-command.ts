// `hpc-bridge try`: the smoke test an operator runs after `doctor`. It asks the RUNNING
// bridge (its HTTP API, with its own token) for a throw-away session whose server is
// `hpc-wrap try-server`, so the whole chain is used as a student's start would use it:
// transport, hpc-wrap, the scheduler, start-env, the port, the tunnel when it is on, and the
// readiness probe. Each phase is printed with the time since the start; the session is
// stopped at the end (also on failure, timeout or Ctrl-C), and a failure is said in plain words.
import { hostUrl } from '../../contract/url.js';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { HubBridgeConfig } from '../../config/schema.js';
import { OUTPUT_TAIL_HEADING, splitMessage } from '../sessions/progress-messages.js';

export interface TryOptions {
  user: string;
  profile: string | null;
  timeoutSeconds: number;
  /** hpc-wrap as the cluster runs it (cluster.hpcWrap); `try-server` is appended. */
  hpcWrap: string[];
  out: (t: string) => void;
  err: (t: string) => void;
  /** Poll interval (tests shorten it). */
  pollMs?: number;
}

interface SessionView {
  id: string;
  state: string;
  jobId: string | null;
  node: string | null;
  url: string | null;
  message: string | null;
  reason: string | null;
  queue: { position: number | null; estimatedStart: string | null };
  tunnel: { state: string; port: number } | null;
}

class TryFailure extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function bridgeBaseUrl(cfg: HubBridgeConfig): string {
  const h = cfg.listen.host;
  return hostUrl('http', h === '0.0.0.0' ? '127.0.0.1' : h === '::' ? '::1' : h, cfg.listen.port);
}

function readToken(file: string): string {
  try {
    const t = readFileSync(file, 'utf8').trim();
    if (t) return t;
    throw new TryFailure(`the API token file ${file} is empty: the bridge writes it on its first start; start the bridge (systemctl start hpc-bridge)`);
  } catch (err) {
    if (err instanceof TryFailure) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new TryFailure(`there is no API token at ${file} yet: the bridge makes it on its first start; start the bridge first (systemctl start hpc-bridge)`);
    if (code === 'EACCES') throw new TryFailure(`cannot read the API token ${file}: run this as the account that runs the bridge (e.g. sudo -u hpc-bridge hpc-bridge try)`);
    throw new TryFailure(`cannot read the API token ${file}: ${(err as Error).message}`);
  }
}

/** One call to the bridge's API; a refusal or an unreachable bridge becomes a sentence. */
async function api(base: string, token: string, method: string, path: string, body?: unknown): Promise<any> {
  let res: Response;
  try {
    res = await fetch(base + path, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    throw new TryFailure(`the bridge is not answering at ${base} (${e.cause?.code ?? e.message}): start it (systemctl start hpc-bridge, or hpc-bridge --config FILE serve) and check listen in hub-bridge.yaml`);
  }
  const json: any = await res.json().catch(() => null);
  if (res.status === 401 || res.status === 403) throw new TryFailure(`the bridge at ${base} refused the token from apiTokenFile (${res.status}): is this the config the running bridge uses?`);
  if (res.status >= 400) throw new TryFailure(`the bridge refused ${method} ${path} (${res.status}): ${json?.error?.message ?? 'no reason given'}`);
  return json;
}

/** The phase line's text: the session's sentence (its details, e.g. the job's last output, follow indented). */
function describe(s: SessionView): string {
  const parts: string[] = [];
  if (s.jobId) parts.push(`job ${s.jobId}`);
  if (s.node) parts.push(`node ${s.node}`);
  if (s.state === 'queued' && s.queue.position !== null) parts.push(`position ${s.queue.position}`);
  const { sentence, details } = splitMessage(s.message ?? '');
  const head = `${sentence}${parts.length ? `${sentence ? ' ' : ''}(${parts.join(', ')})` : ''}`;
  return details ? `${head}\n${details.split('\n').map((l) => `${' '.repeat(20)}${l}`).join('\n')}` : head;
}

/** start-env's line prefix "[hpc-wrap start-env 2026-...Z] " (the time is on the phase line already). */
const LOG_PREFIX = /^\[hpc-wrap [\w-]+ [^\]]+\]\s*/;

/**
 * Why a session ended before it was ready, for the operator in one sentence: the job's last
 * output line (where start-env says which step failed and why) and how the job ended,
 * rather than the student's sentence ("try again, send support the reference").
 */
export function endedSentence(s: Pick<SessionView, 'state' | 'message' | 'reason'>): string {
  const { sentence, details } = splitMessage(s.message ?? '');
  const lines = details.split('\n').map((l) => l.trim()).filter(Boolean);
  const at = lines.indexOf(OUTPUT_TAIL_HEADING);
  const last = at >= 0 ? lines.at(-1)?.replace(LOG_PREFIX, '') : undefined;
  const ended = lines[0]?.startsWith('Job ') ? lines[0].replace(/\.$/, '') : s.reason ? `scheduler: ${s.reason}` : null;
  const what = `the session ${s.state === 'failed' ? 'failed' : 'ended'} before it was ready`;
  if (last && at < lines.length - 1) return `${what}: ${last}${ended ? ` (${ended})` : ''}`;
  return `${what}: ${sentence || 'no message'}${ended ? ` (${ended})` : ''}`;
}

/** The tunnel's own phase line (it comes up between "running" and "ready"), or null when there is none. */
function tunnelText(s: SessionView): string | null {
  if (!s.tunnel) return null;
  const at = `hub-side port 127.0.0.1:${s.tunnel.port}`;
  if (s.tunnel.state === 'up') return `up: the hub reaches the server through ${at}`;
  if (s.tunnel.state === 'waiting') return `waiting for the agent on the node to connect (${at})`;
  return `${s.tunnel.state} (${at})`;
}

/** Runs the smoke test; the exit status: 0 passed, 1 a link failed (said why), 130 interrupted. */
export async function tryCommand(cfg: HubBridgeConfig, o: TryOptions): Promise<number> {
  const t0 = Date.now();
  const pollMs = o.pollMs ?? 500;
  const line = (phase: string, text: string) => o.out(`${`${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s  ${phase.padEnd(10)} ${text}`.trimEnd()}\n`);
  const base = bridgeBaseUrl(cfg);
  let session: SessionView | null = null;
  let token = '';
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSigint);
  try {
    token = readToken(cfg.apiTokenFile);
    const { profiles } = (await api(base, token, 'GET', '/v1/profiles')) as { profiles: { name: string; available: boolean; unavailableReason: string | null }[] };
    const profile = o.profile ?? cfg.defaultProfile ?? profiles[0]?.name ?? null;
    const chosen = profiles.find((p) => p.name === profile);
    if (o.profile && !chosen) throw new TryFailure(`there is no profile ${o.profile} (profiles: ${profiles.map((p) => p.name).join(', ')})`);
    o.out(`hpc-bridge try: a throw-away session for ${o.user}${profile ? ` (profile ${profile})` : ''} through the bridge at ${base}\n`);
    line('bridge', `answers (${profiles.length} profile(s))`);
    if (chosen && !chosen.available) throw new TryFailure(`profile ${chosen.name} is not available: ${chosen.unavailableReason ?? 'no reason given'}`);
    const serverName = `try-${randomBytes(3).toString('hex')}`;
    const prefix = `/user/${o.user}/${serverName}/`;
    session = (await api(base, token, 'POST', '/v1/sessions', {
      user: o.user,
      serverName,
      ...(profile ? { profile } : {}),
      env: { JUPYTERHUB_SERVICE_PREFIX: prefix, JUPYTERHUB_USER: o.user },
      command: [...o.hpcWrap, 'try-server'],
    })) as SessionView;
    line('requested', `session ${session.id}`);
    let shown = '';
    let tunnelShown: string | null = null;
    const deadline = t0 + o.timeoutSeconds * 1000;
    for (;;) {
      if (interrupted) throw new TryFailure('interrupted');
      const s = (await api(base, token, 'GET', `/v1/sessions/${session.id}`)) as SessionView;
      session = s;
      const now = `${s.state} ${describe(s)}`;
      const tunnelNow = tunnelText(s);
      // The tunnel coming up is said before the "ready" it makes possible (often seen in the same poll).
      const tunnelFirst = s.tunnel?.state === 'up';
      const showTunnel = () => {
        if (tunnelNow === tunnelShown) return;
        tunnelShown = tunnelNow;
        if (tunnelNow) line('tunnel', tunnelNow);
      };
      if (tunnelFirst) showTunnel();
      if (now !== shown) {
        shown = now;
        line(s.state, describe(s));
      }
      if (!tunnelFirst) showTunnel();
      if (s.state === 'ready') break;
      if (s.state === 'failed' || s.state === 'stopped') throw new TryFailure(endedSentence(s));
      if (Date.now() > deadline) {
        // The session's message may be empty while it submits, or say only where it runs: the last event says what it was doing (e.g. "retrying").
        const ev = await lastEvent(base, token, s.id);
        const why = (s.message && ev && ev !== s.message ? `${s.message}; last event: ${ev}` : s.message || ev) || 'no message yet';
        const hint =
          s.state === 'queued'
            ? ' (a busy queue is not a fault: give more time with --timeout, or a profile with a free partition)'
            : s.tunnel && s.tunnel.state !== 'up'
              ? ` (the tunnel is ${s.tunnel.state}: the job's output.log says whether its agent reached tunnel.publicHost:publicPort; docs/tunnel.md)`
              : s.state === 'starting' || s.state === 'running'
                ? ` (the job runs but its server has not answered: the job's output.log, in hpc-wrap's workDir under users/${o.user}/sessions/${s.id}/, says where it stopped)`
                : '';
        throw new TryFailure(`not ready after ${o.timeoutSeconds} s, still ${s.state}: ${why}${hint}`);
      }
      await sleep(pollMs);
    }
    // The bridge's own probe passed; ask the stand-in once more, through the same address.
    const api2 = `${session.url}${prefix}api`;
    const answer: any = await fetch(api2, { signal: AbortSignal.timeout(10_000) }).then((r) => r.json(), (e: Error) => ({ error: e.message }));
    if (answer?.version !== 'hpc-bridge-try') throw new TryFailure(`the server at ${api2} did not answer as the stand-in does: ${JSON.stringify(answer).slice(0, 200)}`);
    line('answers', `${api2} from node ${answer.node}`);
    await stop(base, token, session.id, line, pollMs);
    o.out(`Smoke test passed in ${((Date.now() - t0) / 1000).toFixed(1)} s: submit, start, port${session.tunnel ? ', tunnel' : ''}, readiness and stop all work.\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof TryFailure)) throw err;
    if (session && !interrupted) line('FAILED', err.message);
    else if (!session) o.err(`hpc-bridge try: ${err.message}\n`);
    if (session) {
      try {
        await stop(base, token, session.id, line, pollMs);
      } catch (e) {
        o.err(`hpc-bridge try: could not stop session ${session.id}: ${(e as Error).message}; stop it with DELETE /v1/sessions/${session.id}\n`);
      }
    }
    if (interrupted) {
      o.err('hpc-bridge try: interrupted; the session was stopped.\n');
      return 130;
    }
    if (session) o.err(`hpc-bridge try: FAILED: ${err.message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** The session's last event message (what the bridge last said about it), or null. */
async function lastEvent(base: string, token: string, id: string): Promise<string | null> {
  try {
    const { events } = (await api(base, token, 'GET', `/v1/sessions/${id}/events`)) as { events: { message: string }[] };
    return events.at(-1)?.message ?? null;
  } catch {
    return null;
  }
}

async function stop(base: string, token: string, id: string, line: (p: string, t: string) => void, pollMs: number): Promise<void> {
  const s0 = (await api(base, token, 'DELETE', `/v1/sessions/${id}`)) as SessionView;
  if (s0.state === 'stopped' || s0.state === 'failed') {
    line('stopped', s0.jobId ? `job ${s0.jobId} is gone` : 'nothing was running');
    return;
  }
  const until = Date.now() + 60_000;
  for (;;) {
    const s = (await api(base, token, 'GET', `/v1/sessions/${id}`)) as SessionView;
    if (s.state === 'stopped' || s.state === 'failed') {
      line('stopped', s.jobId ? `job ${s.jobId} cancelled, session closed` : 'session closed');
      return;
    }
    if (Date.now() > until) throw new TryFailure(`session ${id} is still ${s.state} a minute after the stop`);
    await sleep(pollMs);
  }
}
