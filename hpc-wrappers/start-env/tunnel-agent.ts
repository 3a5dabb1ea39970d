// The tunnel step of start-env (docs/tunnel.md): when the job carries `tunnel`, bring up
// the restricted reverse tunnel to the hub BEFORE the server starts:
//   hub 127.0.0.1:remotePort  →  node 127.0.0.1:<server port>     (the hub reaches the notebook)
//   node 127.0.0.1:<free port> →  hub 127.0.0.1:hubApiPort         (the notebook reaches the hub API)
// and point JUPYTERHUB_API_URL / JUPYTERHUB_ACTIVITY_URL at the node end (paths kept).
// The agent runs in start-env itself (outside any container), keeps the connection alive,
// reconnects with backoff, and reports its state in status.json and the job output. The
// moment the server accepts connections it tells the bridge (the status channel), so the
// bridge probes it at once instead of at its next poll.
import { writeTunnelStatus } from '../run-dir-files.js';
import { canConnect } from './server-process.js';
import type { EnvironmentContext, EnvironmentStep } from './steps.js';
import { HubApiForwarder } from './tunnel-api-forwarder.js';
import { TunnelClient } from './tunnel-client.js';

export const HUB_URL_VARIABLES = ['JUPYTERHUB_API_URL', 'JUPYTERHUB_ACTIVITY_URL'] as const;
const START_TIMEOUT_MS = 60_000;

/** `url` with its host and port replaced by 127.0.0.1:port (scheme, path, query kept). */
export function rewriteHubUrl(url: string, port: number): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error('a hub URL in the server environment (JUPYTERHUB_API_URL / JUPYTERHUB_ACTIVITY_URL) is not a valid URL');
  }
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}

interface Running {
  client: TunnelClient;
  /** Null when the spec has no hub API (a launch behind the gateway's tunnel). */
  api: HubApiForwarder | null;
  watch: { stop(): void };
}

/** Calls `onListening` once 127.0.0.1:port accepts a connection (checked every `everyMs`, with start-env's own probe). */
export function watchListening(port: number, onListening: () => void, everyMs = 200): { stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const attempt = async () => {
    if (stopped) return;
    const up = await canConnect('127.0.0.1', port);
    if (stopped) return;
    if (!up) return void (timer = setTimeout(() => void attempt(), everyMs));
    stopped = true;
    onListening();
  };
  void attempt();
  return {
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** Builds the step; `startTimeoutMs` bounds the wait for the first connection. */
export function createTunnelStep(startTimeoutMs = START_TIMEOUT_MS): EnvironmentStep {
  let running: Running | null = null;

  const shutdown = async (ctx: EnvironmentContext) => {
    const r = running;
    running = null;
    if (!r) return;
    r.watch.stop();
    await Promise.all([r.api?.close(), r.client.stop()]);
    writeTunnelStatus(ctx.runDir, 'down', null);
  };

  return {
    name: 'tunnel',
    async prepare(ctx) {
      const spec = ctx.job.tunnel;
      if (!spec) return;
      if (!ctx.tunnelPrivateKey) throw new Error('the job has a tunnel but secrets.json holds no tunnel key (tunnelPrivateKey)');
      if (ctx.port === null) throw new Error('the tunnel needs the server port: the server-port step must run before it');
      if (!LOOPBACK.has(ctx.job.jupyter.bindAddress)) {
        throw new Error(`behind the tunnel the server must listen on 127.0.0.1, not ${ctx.job.jupyter.bindAddress}`);
      }
      const client = new TunnelClient({
        spec,
        privateKey: ctx.tunnelPrivateKey,
        target: { host: '127.0.0.1', port: ctx.port },
        onState: (state, lastError) => writeTunnelStatus(ctx.runDir, state, lastError),
        say: (line) => ctx.say(line),
      });
      const hubApiPort = spec.hubApiPort;
      const api = hubApiPort === undefined ? null : new HubApiForwarder({ hubApiPort, live: (ms) => client.live(ms) });
      const serverPort = ctx.port;
      const watch = watchListening(serverPort, () => client.reportPhase({ phase: 'listening', port: serverPort }));
      running = { client, api, watch };
      try {
        const apiPort = api ? await api.listen() : null;
        ctx.say(`tunnel: connecting to ${client.where}${api ? ` (hub API 127.0.0.1:${hubApiPort} → node 127.0.0.1:${apiPort})` : ''}`);
        client.start();
        await client.waitUp(startTimeoutMs);
        for (const name of HUB_URL_VARIABLES) {
          const url = ctx.env[name];
          if (url && apiPort !== null) ctx.env[name] = rewriteHubUrl(url, apiPort);
        }
        ctx.log.info('start-env.tunnel-up', { sessionId: ctx.job.sessionId, hub: client.where, remotePort: spec.remotePort, apiPort, cipher: client.cipher });
      } catch (err) {
        // A failed prepare is not torn down by the pipeline: stop the agent here.
        const message = (err as Error).message;
        await shutdown(ctx);
        writeTunnelStatus(ctx.runDir, 'down', message);
        throw err;
      }
    },
    async teardown(ctx) {
      await shutdown(ctx);
    },
  };
}

export const tunnelStep: EnvironmentStep = createTunnelStep();
