// The hub end of the tunnels (Tunnels: ports + keys + the SSH endpoint) with real sockets
// on loopback and raw ssh2 clients holding the jobs' keys: what the hub's proxy reaches on
// P, who may carry P, how fast a loss shows, what revocation cuts, and the restart rules.
import { connect, createServer, type Server } from 'node:net';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { BridgeMetrics } from '../../../hub-bridge/metrics/bridge-metrics.js';
import type { Session } from '../../../hub-bridge/sessions/types.js';
import { SessionStore } from '../../../hub-bridge/store/session-store.js';
import { FORWARD_UP, STATUS_CHANNEL } from '../../../contract/tunnel.js';
import { sample } from '../../support/prometheus-text.js';
import { sessionId, startTestEndpoint, type TestEndpoint } from '../../support/tunnel-endpoint.js';
import { startRelay } from '../../support/tcp-relay.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function endpoint(tunnel: Record<string, unknown> = {}): Promise<TestEndpoint> {
  const e = await startTestEndpoint({ apiPort: 1, tunnel });
  cleanup.push(() => e.close());
  return e;
}

/** An agent as the job runs it, minus the node: logs in with the key, forwards P, answers `name`. */
function agent(port: number, privateKey: string, P: number, name: string, extra: Partial<ssh2.ConnectConfig> = {}): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    cleanup.push(() => c.end());
    c.on('error', reject);
    c.on('tcp connection', (_info, accept) => {
      const ch = accept();
      ch.on('data', () => ch.end(`HTTP/1.0 200 OK\r\n\r\n${name}`));
    });
    c.on('ready', () => c.forwardIn('127.0.0.1', P, (err) => (err ? reject(err) : resolve(c))));
    c.connect({ host: '127.0.0.1', port, username: 'tunnelbot', privateKey, readyTimeout: 10_000, ...extra });
  });
}

/** GET / on 127.0.0.1:P: the body, or the error code. */
function get(P: number): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const s = connect(P, '127.0.0.1', () => s.write('GET / HTTP/1.0\r\n\r\n'));
    s.on('data', (d) => (data += d));
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    s.on('close', () => resolve(data.slice(data.indexOf('\r\n\r\n') + 4)));
  });
}

describe('Tunnels', () => {
  it('P answers only through the session\'s own agent: reset before it logs in, its server after', async () => {
    const e = await endpoint();
    const s = await e.session();
    const P = s.grant.remotePort;
    expect(await get(P)).toBe('ECONNRESET');
    expect(e.tunnels.refusedConnections).toBe(1);
    expect(e.tunnels.state(s.sessionId)?.state).toBe('waiting');
    await agent(e.port, s.grant.privateKey, P, 'agent-1');
    await expect.poll(() => e.tunnels.isUp(s.sessionId)).toBe(true);
    expect(await get(P)).toBe('agent-1');
  });

  it('another session\'s key cannot carry P; the newest connection of the same key takes over', async () => {
    const e = await endpoint();
    const [a, b] = [await e.session(), await e.session()];
    await expect(agent(e.port, b.grant.privateKey, a.grant.remotePort, 'thief')).rejects.toThrow(/Unable to bind/);
    const first = await agent(e.port, a.grant.privateKey, a.grant.remotePort, 'first');
    const closed = new Promise<void>((r) => first.on('close', () => r()));
    await agent(e.port, a.grant.privateKey, a.grant.remotePort, 'second');
    await closed;
    expect(await get(a.grant.remotePort)).toBe('second');
    expect(e.log()).toMatch(/a newer connection with this session's key took over its tunnel/);
  });

  it('ending a session cuts its connection within 1 s, releases P and refuses the key from then on', async () => {
    const e = await endpoint();
    const s = await e.session();
    const c = await agent(e.port, s.grant.privateKey, s.grant.remotePort, 'x');
    const t0 = Date.now();
    const closed = new Promise<number>((r) => c.on('close', () => r(Date.now() - t0)));
    e.tunnels.end(s.sessionId);
    expect(await closed).toBeLessThan(1000);
    expect(await get(s.grant.remotePort)).toBe('ECONNREFUSED');
    await expect(agent(e.port, s.grant.privateKey, s.grant.remotePort, 'again')).rejects.toThrow(/authentication methods failed/);
    expect(e.changes.map((c) => c.state)).toEqual(['up', 'closed']);
  });

  it('a silent agent (network black hole) shows as down after three keepalive intervals, and comes back', async () => {
    const e = await endpoint({ endpointKeepaliveSeconds: 0.5 });
    const s = await e.session();
    const relay = await startRelay(e.port);
    cleanup.push(() => relay.close());
    await agent(relay.port, s.grant.privateKey, s.grant.remotePort, 'x', { keepaliveInterval: 0 });
    await expect.poll(() => e.tunnels.isUp(s.sessionId)).toBe(true);
    relay.blackhole();
    const t0 = Date.now();
    await expect.poll(() => e.tunnels.state(s.sessionId)?.state, { timeout: 5_000, interval: 50 }).toBe('down');
    expect(Date.now() - t0).toBeLessThan(2_500);
    expect(e.changes.at(-1)?.reason).toMatch(/no answer to keepalives/);
    expect(await get(s.grant.remotePort)).toBe('ECONNRESET'); // still held, served by nobody
    await agent(relay.port, s.grant.privateKey, s.grant.remotePort, 'back');
    await expect.poll(() => e.tunnels.state(s.sessionId)?.state).toBe('up');
    expect(await get(s.grant.remotePort)).toBe('back');
  });

  it('after a restart takes back the live sessions\' ports; one another program took is reported, not routed', async () => {
    const e = await endpoint();
    const [a, b] = [await e.session(), await e.session()];
    e.tunnels.end(a.sessionId);
    e.tunnels.end(b.sessionId);
    const squatter: Server = await new Promise((r) => {
      const srv = createServer((sock) => sock.end('squatter'));
      srv.listen(b.grant.remotePort, '127.0.0.1', () => r(srv));
    });
    cleanup.push(() => new Promise((r) => squatter.close(r)));
    const row = (id: string, g: typeof a.grant, state: Session['tunnelState']) =>
      ({ id, tunnelPort: g.remotePort, tunnelPublicKey: g.publicKey, tunnelExpiresAt: g.expiresAt, tunnelState: state }) as Session;
    const lost = await e.tunnels.restore([row(a.sessionId, a.grant, 'up'), row(b.sessionId, b.grant, 'waiting')]);
    expect(lost).toEqual([{ sessionId: b.sessionId, port: b.grant.remotePort, error: 'EADDRINUSE' }]);
    expect(e.tunnels.state(a.sessionId)?.state).toBe('down');
    expect(e.tunnels.state(b.sessionId)).toBeNull();
    await expect(agent(e.port, b.grant.privateKey, b.grant.remotePort, 'b')).rejects.toThrow(/authentication methods failed/);
    await agent(e.port, a.grant.privateKey, a.grant.remotePort, 'a');
    await expect.poll(() => e.tunnels.isUp(a.sessionId)).toBe(true);
  });

  it('counts the bytes it relays through P per direction in the bridge\'s metrics (hpc_bridge_tunnel_bytes_total)', async () => {
    const store = new SessionStore(':memory:');
    cleanup.push(() => store.close());
    const m = new BridgeMetrics({ store, profiles: [], processMetrics: false });
    const bytes = async (direction: string) => sample((await m.text()).body, 'hpc_bridge_tunnel_bytes_total', { direction });
    const e = await endpoint();
    e.tunnels.metrics = m.tunnel;
    const s = await e.session();
    const P = s.grant.remotePort;
    expect(await get(P)).toBe('ECONNRESET'); // refused: nothing relayed, nothing counted
    const page = 'x'.repeat(200_000);
    await agent(e.port, s.grant.privateKey, P, page);
    await expect.poll(() => e.tunnels.isUp(s.sessionId)).toBe(true);
    expect([await bytes('to_notebook'), await bytes('from_notebook')]).toEqual([0, 0]);
    expect(await get(P)).toBe(page);
    const request = 'GET / HTTP/1.0\r\n\r\n'.length;
    const response = 'HTTP/1.0 200 OK\r\n\r\n'.length + page.length;
    expect([await bytes('to_notebook'), await bytes('from_notebook')]).toEqual([request, response]);
    expect(await get(P)).toBe(page);
    expect([await bytes('to_notebook'), await bytes('from_notebook')]).toEqual([2 * request, 2 * response]);
  });

  it('a stranger\'s key, a password and the wrong user are refused', async () => {
    const e = await endpoint();
    const s = await e.session();
    const stranger = await e.session(sessionId());
    e.tunnels.end(stranger.sessionId);
    await expect(agent(e.port, stranger.grant.privateKey, s.grant.remotePort, 'x')).rejects.toThrow(/authentication methods failed/);
    await expect(agent(e.port, '', s.grant.remotePort, 'x', { privateKey: undefined, password: 'tunnelbot' })).rejects.toThrow(/authentication methods failed/);
    await expect(agent(e.port, s.grant.privateKey, s.grant.remotePort, 'x', { username: 'root' })).rejects.toThrow(/authentication methods failed/);
    expect(e.tunnels.isUp(s.sessionId)).toBe(false);
  });

  it('says {"forward":"up"} on a status channel once the connection holds its forward: when it comes, or at once', async () => {
    const e = await endpoint();
    const s = await e.session();
    const c = new ssh2.Client();
    cleanup.push(() => c.end());
    await new Promise<void>((resolve, reject) => {
      c.on('ready', () => resolve()).on('error', reject);
      c.connect({ host: '127.0.0.1', port: e.port, username: 'tunnelbot', privateKey: s.grant.privateKey, readyTimeout: 10_000 });
    });
    const statusChannel = () =>
      new Promise<{ said: () => string }>((resolve, reject) =>
        c.forwardOut('127.0.0.1', 0, STATUS_CHANNEL.host, STATUS_CHANNEL.port, (err, ch) => {
          if (err) return reject(err);
          let said = '';
          ch.on('data', (d: Buffer) => (said += d.toString('utf8')));
          resolve({ said: () => said });
        }),
      );
    const early = await statusChannel();
    await new Promise((r) => setTimeout(r, 300));
    expect(early.said()).toBe(''); // logged in, no forward yet: nothing to vouch for
    await new Promise<void>((resolve, reject) => c.forwardIn('127.0.0.1', s.grant.remotePort, (err) => (err ? reject(err) : resolve())));
    await expect.poll(() => early.said()).toBe(FORWARD_UP);
    const late = await statusChannel();
    await expect.poll(() => late.said()).toBe(FORWARD_UP);
    await new Promise((r) => setTimeout(r, 200));
    expect(early.said()).toBe(FORWARD_UP); // once
  });
});
