// gateway.backend: tunnel — nodes the gateway cannot reach (docs/launch.md). The real
// gateway over HTTPS with its real tunnel endpoint (the Tunnels class), and the job's real
// tunnel agent (hpc-wrappers/start-env/tunnel-client.ts, what the start-env tunnel step
// runs) given the spec and key the registration returned. The scheduler's answers are
// scripted (ScriptedJobs, a stand-in for `hpc-wrap launch-jobs`); the node is a name the
// gateway cannot resolve, and the port the job's comment announces belongs to a decoy
// server: everything the browser gets must come through the route's own tunnel.
import { createServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import ssh2 from 'ssh2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { formatComment, jupyterToken, randomSecret, routeResponseSchema, secretHash, TOKEN_PARAM } from '../../../contract/launch.js';
import { splitTunnelRequest, type TunnelSpec } from '../../../contract/tunnel.js';
import { createLogger } from '../../../hub-bridge/log.js';
import { tunnelIdOf } from '../../../hub-bridge/gateway/route-tunnels.js';
import { generateTunnelKey } from '../../../hub-bridge/tunnel/tunnel-keys.js';
import { TunnelClient } from '../../../hpc-wrappers/start-env/tunnel-client.js';
import { freeLoopbackPort } from '../../support/tunnel-endpoint.js';
import { gatewayFixture, httpsTo, ScriptedJobs, upgradeTo, type GatewayFixture } from '../../support/gateway-fixture.js';

let notebook: Server;
let notebookPort: number;
let decoy: Server;
let decoyPort: number;
let fx: GatewayFixture;
let ca: string;
let logText = '';
const jobs = new ScriptedJobs();
const agents: TunnelClient[] = [];

/** A notebook stand-in on the "node": demands the route's token, says who it is; WebSocket echo. */
function server(name: string): Server {
  const s = createServer((req, res) => {
    if (!(req.headers.authorization ?? '').startsWith('token ')) return void res.writeHead(403).end('no token');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ server: name, url: req.url, authorization: req.headers.authorization }));
  });
  s.on('upgrade', (_req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n');
    socket.on('data', (d) => socket.write(Buffer.concat([Buffer.from(`${name}:`), d])));
  });
  return s;
}

async function listen(s: Server): Promise<number> {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as AddressInfo).port;
}

beforeAll(async () => {
  notebook = server('notebook');
  notebookPort = await listen(notebook);
  decoy = server('decoy');
  decoyPort = await listen(decoy);
  const base = 42000 + Math.floor(Math.random() * 20000);
  const sink = new Writable({
    write(chunk, _e, cb) {
      logText += String(chunk);
      cb();
    },
  });
  fx = await gatewayFixture(
    {
      backend: 'tunnel',
      tunnel: { listen: { host: '127.0.0.1', port: 0 }, publicHost: '127.0.0.1', ports: { start: base, end: base + 19 }, endpointKeepaliveSeconds: 0.5 },
    },
    { jobs, log: createLogger('debug', sink) },
  );
  ca = readFileSync(fx.cert, 'utf8');
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
});
afterAll(async () => {
  await fx?.close();
  notebook?.close();
  decoy?.close();
});

const gwHost = () => `gw.test:${fx.gateway.port}`;
const labelHost = (label: string) => `${label}.gw.test:${fx.gateway.port}`;

async function waitFor<T>(what: string, f: () => Promise<T | null> | T | null, ms = 8000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

let nextJob = 800;
/** A launch as hpc-wrap makes it, registered; then its job runs on a node the gateway cannot reach. */
async function launched(owner = 'alice') {
  const secret = randomSecret();
  const token = randomSecret();
  const jobId = String(nextJob++);
  jobs.set(jobId, { user: owner, state: 'pending', comment: formatComment(secretHash(secret)) });
  const r = await httpsTo(fx.gateway.port, ca, { host: gwHost(), path: '/_hpcwrap/v1/routes', method: 'POST', body: JSON.stringify({ version: 1, jobId, secret, tokenHash: secretHash(token) }) });
  expect(r.status).toBe(201);
  const reg = routeResponseSchema.parse(JSON.parse(r.body));
  expect(reg.tunnel).toBeDefined();
  const { spec, privateKey } = splitTunnelRequest(reg.tunnel!);
  const redeemed = await httpsTo(fx.gateway.port, ca, { host: labelHost(reg.label), path: `/?${TOKEN_PARAM}=${token}` });
  const cookie = String(redeemed.headers['set-cookie']).split(';')[0]!;
  // Running on a node name that resolves nowhere, announcing the decoy's port.
  jobs.set(jobId, { state: 'running', node: 'cn-unreachable.invalid', comment: formatComment(secretHash(secret), decoyPort) });
  return { secret, jobId, label: reg.label, spec, privateKey, cookie, body: r.body };
}

/** The job's tunnel agent, as the start-env tunnel step runs it, forwarding P to `target`. */
function agent(spec: TunnelSpec, privateKey: string, target = notebookPort): TunnelClient {
  const c = new TunnelClient({ spec, privateKey, target: { host: '127.0.0.1', port: target }, onState: () => {}, say: () => {}, backoff: { initialMs: 100, maxMs: 300 } });
  agents.push(c);
  c.start();
  return c;
}

const get = (l: { label: string; cookie: string }, path = '/api/status', accept = '*/*') =>
  httpsTo(fx.gateway.port, ca, { host: labelHost(l.label), path, headers: { cookie: l.cookie, accept } });

/** Connects to 127.0.0.1:port: 'refused' (nothing listens), 'reset' (held, no agent), or the data received. */
function poke(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    let data = '';
    s.on('data', (d) => (data += String(d)));
    s.on('connect', () => s.write('GET /api/status HTTP/1.0\r\nauthorization: token x\r\n\r\n'));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED' ? 'refused' : 'reset'));
    s.on('close', () => resolve(data || 'reset'));
  });
}

describe('gateway.backend: tunnel', () => {
  it('registration allocates the route a held port P and a key; the route waits until the job\'s agent carries P, then is proxied through it', async () => {
    const l = await launched();
    expect(l.spec).toMatchObject({ host: '127.0.0.1', port: fx.gateway.tunnels!.tunnels.endpoint.address!.port, user: 'tunnelbot' });
    expect(l.spec.hubApiPort).toBeUndefined(); // no hub API behind the gateway
    expect(l.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    const P = l.spec.remotePort;
    // P is the gateway's from registration on: nothing else can bind it; without the agent a connection is reset.
    const squatter = createTcpServer();
    await expect(new Promise((resolve, reject) => squatter.once('error', reject).listen(P, '127.0.0.1', () => resolve(true)))).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(await poke(P)).toBe('reset');
    // The job runs, its comment announces a port: still the waiting page, never the decoy.
    await waitFor('the route to see the job running', () => (fx.gateway.table.find(l.label)?.live.job?.state === 'running' ? true : null));
    await sleep(600);
    const waiting = await get(l, '/', 'text/html');
    expect(waiting.status).toBe(200);
    expect(waiting.body).toContain('running on cn-unreachable.invalid');
    expect(waiting.body).toContain('tunnel to the gateway is not up');
    expect((await get(l)).status).toBe(503);
    // The agent logs in with the route's key and forwards P to the notebook.
    agent(l.spec, l.privateKey);
    const proxied = await waitFor('the notebook through the tunnel', async () => {
      const r = await get(l);
      return r.status === 200 ? r : null;
    });
    expect(JSON.parse(proxied.body)).toMatchObject({ server: 'notebook', url: '/api/status', authorization: `token ${jupyterToken(l.secret)}` });
    // WebSocket through the tunnel too.
    const ws = await upgradeTo(fx.gateway.port, ca, { host: labelHost(l.label), path: '/api/kernels/k/channels', headers: { cookie: l.cookie, origin: `https://${labelHost(l.label)}` } });
    expect(ws.status).toBe(101);
    const echoed = await new Promise<string>((r) => {
      ws.socket!.once('data', (d: Buffer) => r(String(d)));
      ws.socket!.write('ping');
    });
    ws.socket!.destroy();
    expect(echoed).toBe('notebook:ping');
    expect(fx.gateway.tunnels!.tunnels.state(tunnelIdOf(l.label))).toMatchObject({ state: 'up', port: P });
    // The key is in the response to launch only: never in the audit log or the gateway's log.
    const keyBody = l.privateKey.split('\n')[1]!;
    expect(readFileSync(fx.gateway.auditFile, 'utf8')).not.toContain(keyBody);
    expect(logText).not.toContain(keyBody);
    expect(logText).not.toContain(l.label);
  });

  it('the agent going away shows the waiting page again; it comes back when the agent reconnects', async () => {
    const l = await launched();
    const a = agent(l.spec, l.privateKey);
    await waitFor('ready', async () => ((await get(l)).status === 200 ? true : null));
    await a.stop();
    await waitFor('the route to stop proxying', async () => ((await get(l)).status === 503 ? true : null));
    agent(l.spec, l.privateKey);
    await waitFor('ready again', async () => ((await get(l)).status === 200 ? true : null));
  });

  it("another route's key cannot forward this route's P, and an unknown key cannot log in", async () => {
    const a = await launched('alice');
    const m = await launched('mallory');
    const P = a.spec.remotePort;
    // Mallory's own job, with Mallory's (valid) key, asks to listen on Alice's P.
    const refused = await new Promise<string>((resolve) => {
      const c = new ssh2.Client();
      c.on('ready', () => c.forwardIn('127.0.0.1', P, (err) => {
        c.end();
        resolve(err ? 'refused' : 'accepted');
      }));
      c.on('error', (e) => resolve(`error: ${e.message}`));
      c.connect({ host: '127.0.0.1', port: m.spec.port, username: m.spec.user, privateKey: m.privateKey, hostVerifier: () => true });
    });
    expect(refused).toBe('refused');
    // Mallory's agent told Alice's P as its port: the endpoint refuses the forward, the tunnel never comes up.
    const wrong = agent({ ...m.spec, remotePort: P }, m.privateKey);
    await expect(wrong.waitUp(1500)).rejects.toThrow();
    expect(fx.gateway.tunnels!.tunnels.state(tunnelIdOf(a.label))?.state).not.toBe('up');
    expect((await get(a)).status).toBe(503);
    // A key the gateway never issued: no login at all.
    const other = generateTunnelKey();
    const stranger = await new Promise<string>((resolve) => {
      const c = new ssh2.Client();
      c.on('ready', () => {
        c.end();
        resolve('logged in');
      });
      c.on('error', (e) => resolve(e.message));
      c.connect({ host: '127.0.0.1', port: a.spec.port, username: a.spec.user, privateKey: other.privateKey, hostVerifier: () => true });
    });
    expect(stranger).toMatch(/authentication methods failed/);
    expect(logText).toContain('may listen on 127.0.0.1:');
  });

  it('stop: the route ends, P is released, the key revoked and the agent\'s connection closed', async () => {
    const l = await launched();
    const a = agent(l.spec, l.privateKey);
    await waitFor('ready', async () => ((await get(l)).status === 200 ? true : null));
    const id = tunnelIdOf(l.label);
    expect(fx.gateway.tunnels!.tunnels.endpoint.agentsOf(id)).toHaveLength(1);
    const r = await httpsTo(fx.gateway.port, ca, { host: gwHost(), path: '/_hpcwrap/v1/routes/delete', method: 'POST', body: JSON.stringify({ version: 1, secret: l.secret }) });
    expect(JSON.parse(r.body)).toEqual({ removed: true });
    expect(fx.gateway.tunnels!.tunnels.state(id)).toBeNull();
    await waitFor('the agent\'s connection to close', () => (fx.gateway.tunnels!.tunnels.endpoint.agentsOf(id).length === 0 ? true : null));
    expect(await poke(l.spec.remotePort)).toBe('refused'); // released: nothing listens on P
    expect((await get(l, '/', 'text/html')).status).toBe(410);
    // The agent keeps trying; its key is revoked, so it never gets back in.
    await sleep(700);
    expect(fx.gateway.tunnels!.tunnels.endpoint.agentsOf(id)).toHaveLength(0);
    expect(a.lastError).toBeTruthy();
  });

  it('the route ends with its job: P released within one poll interval', async () => {
    const l = await launched();
    agent(l.spec, l.privateKey);
    await waitFor('ready', async () => ((await get(l)).status === 200 ? true : null));
    jobs.set(l.jobId, { state: 'done' });
    await waitFor('the route to end', () => (fx.gateway.table.find(l.label)?.live.endedAt ? true : null), 3000);
    expect(await poke(l.spec.remotePort)).toBe('refused');
  });

  it('a retried registration of the same launch gets a new key and port; the old key no longer logs in', async () => {
    const l = await launched();
    const token = randomSecret();
    const again = await httpsTo(fx.gateway.port, ca, { host: gwHost(), path: '/_hpcwrap/v1/routes', method: 'POST', body: JSON.stringify({ version: 1, jobId: l.jobId, secret: l.secret, tokenHash: secretHash(token) }) });
    expect(again.status).toBe(200);
    const reg = routeResponseSchema.parse(JSON.parse(again.body));
    expect(reg.label).toBe(l.label);
    const fresh = splitTunnelRequest(reg.tunnel!);
    expect(fresh.privateKey).not.toBe(l.privateKey);
    // the old P is released (the new one is drawn at random from the range and may be the same)
    if (fresh.spec.remotePort !== l.spec.remotePort) expect(await poke(l.spec.remotePort)).toBe('refused');
    const old = agent(l.spec, l.privateKey);
    await expect(old.waitUp(1000)).rejects.toThrow();
    agent(fresh.spec, fresh.privateKey);
    await waitFor('ready with the new key', async () => ((await get(l)).status === 200 ? true : null));
  });
});

describe('a gateway restart with backend: tunnel', () => {
  it('takes every live route\'s P and key back: the job\'s agent reconnects and the route works again', async () => {
    const rjobs = new ScriptedJobs();
    const base = 42000 + Math.floor(Math.random() * 20000);
    const tunnelPort = await freeLoopbackPort();
    const first = await gatewayFixture(
      { backend: 'tunnel', tunnel: { listen: { host: '127.0.0.1', port: tunnelPort }, publicHost: '127.0.0.1', ports: { start: base, end: base + 4 }, endpointKeepaliveSeconds: 0.5 } },
      { jobs: rjobs, log: createLogger('warn', new Writable({ write: (_c, _e, cb) => cb() })) },
    );
    const rca = readFileSync(first.cert, 'utf8');
    const secret = randomSecret();
    const token = randomSecret();
    rjobs.set('1', { user: 'alice', state: 'running', node: 'cn-unreachable.invalid', comment: formatComment(secretHash(secret), decoyPort) });
    const r = await httpsTo(first.gateway.port, rca, { host: `gw.test:${first.gateway.port}`, path: '/_hpcwrap/v1/routes', method: 'POST', body: JSON.stringify({ version: 1, jobId: '1', secret, tokenHash: secretHash(token) }) });
    const reg = routeResponseSchema.parse(JSON.parse(r.body));
    const { spec, privateKey } = splitTunnelRequest(reg.tunnel!);
    agent(spec, privateKey);
    await waitFor('ready', () => first.gateway.table.find(reg.label)?.live.ready ?? null);
    await first.gateway.close();
    const { startGateway } = await import('../../../hub-bridge/gateway/gateway.js');
    const { loadHubBridgeConfig } = await import('../../../config/load.js');
    const again = await startGateway(loadHubBridgeConfig(`${first.dir}/hub-bridge.yaml`), { jobs: rjobs, log: createLogger('warn', new Writable({ write: (_c, _e, cb) => cb() })) });
    try {
      expect(await poke(spec.remotePort)).not.toBe('refused'); // held again at once
      await waitFor('the agent to reconnect with its key', () => (again.tunnels!.upPort(reg.label) === spec.remotePort ? true : null));
      await waitFor('ready again', () => again.table.find(reg.label)?.live.ready ?? null);
    } finally {
      await again.close();
    }
  });
});
