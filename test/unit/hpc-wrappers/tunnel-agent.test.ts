// The compute side of the tunnel: the startjob `tunnel` field and where its private key
// lands, the hub URL rewrite, the host key check, and the agent's connection logic against
// the bridge's real tunnel endpoint running in this process (forward, relay, drop and
// reconnect, status push, refusals).
import { readFileSync, statSync } from 'node:fs';
import { createServer as createHttpServer, get, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateTunnelKey } from '../../../hub-bridge/tunnel/tunnel-keys.js';
import { rewriteHubUrl } from '../../../hpc-wrappers/start-env/tunnel-agent.js';
import { HubApiForwarder } from '../../../hpc-wrappers/start-env/tunnel-api-forwarder.js';
import { TunnelClient } from '../../../hpc-wrappers/start-env/tunnel-client.js';
import { tunnelHostKeys } from '../../../hpc-wrappers/start-env/tunnel-host-key.js';
import type { TunnelState } from '../../../hpc-wrappers/run-dir-files.js';
import { freeLoopbackPort, startTestEndpoint, type TestEndpoint } from '../../support/tunnel-endpoint.js';
import { buildBundle, makeWorkspace, startRequest, tempDir, type Workspace } from './support/hpc-wrap-bundle.js';

const hostPair = generateTunnelKey();
const hostKey = { public: hostPair.publicKey, private: hostPair.privateKey };
const hostBlob = Buffer.from(hostPair.publicKey.split(' ')[1]!, 'base64');
const jobKey = generateTunnelKey();

describe('startjob with a tunnel', () => {
  let bundle: string;
  let ws: Workspace;
  beforeAll(async () => {
    bundle = await buildBundle(tempDir());
    ws = makeWorkspace(bundle, { jupyter: { bindAddress: '0.0.0.0' } });
  });
  afterAll(() => ws.cleanup());

  const tunnel = { host: 'hub.example.org', port: 22, user: 'tunnelbot', hostKeys: [`hub.example.org ${hostKey.public}`], remotePort: 40001, hubApiPort: 8081, keepaliveIntervalSeconds: 15 };
  // A ready script that does not run start-env, so the spool stays for inspection.
  const request = (t: Record<string, unknown>) => startRequest({ resources: null, script: '#!/bin/sh\nsleep 2\n', tunnel: t });
  const keyLine = jobKey.privateKey.split('\n')[2]!;

  it('puts the private key only into secrets.json (0600); job.json gets the rest and a loopback bind', async () => {
    const r = await ws.wrap.run(['startjob'], { input: JSON.stringify(request({ ...tunnel, privateKey: jobKey.privateKey })) });
    expect(r.code, r.stderr).toBe(0);
    const runDir = (r.json as { runDir: string }).runDir;
    const job = JSON.parse(readFileSync(join(runDir, 'spool', 'job.json'), 'utf8'));
    expect(job.tunnel).toEqual(tunnel);
    expect(job.jupyter.bindAddress).toBe('127.0.0.1');
    const secretsFile = join(runDir, 'spool', 'secrets.json');
    expect(statSync(secretsFile).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(secretsFile, 'utf8')).tunnelPrivateKey).toBe(jobKey.privateKey);
    for (const text of [readFileSync(join(runDir, 'spool', 'job.json'), 'utf8'), r.stdout, r.stderr, readFileSync(ws.logFile, 'utf8')]) {
      expect(text).not.toContain(keyLine);
    }
  });

  it.each([
    ['a key that is not a private key', { ...tunnel, privateKey: 'ssh-ed25519 AAAA' }, /tunnel\.privateKey: must be an unencrypted private key/],
    ['no private key', tunnel, /tunnel\.privateKey/],
    ['no host keys', { ...tunnel, hostKeys: [], privateKey: jobKey.privateKey }, /tunnel\.hostKeys: at least one host key/],
    ['a host key line with a newline', { ...tunnel, hostKeys: [`a ${hostKey.public}\nb x`], privateKey: jobKey.privateKey }, /tunnel\.hostKeys\.0: a known_hosts line must be one line/],
    ['an unknown field', { ...tunnel, privateKey: jobKey.privateKey, permitAll: true }, /tunnel: unknown key\(s\) "permitAll"/],
    ['a bad host', { ...tunnel, host: '-oProxyCommand=x', privateKey: jobKey.privateKey }, /tunnel\.host: a host name or IP address/],
  ])('refuses %s (exit 2), never echoing the key', async (_what, t, message) => {
    const r = await ws.wrap.run(['startjob'], { input: JSON.stringify(request(t)) });
    expect(r.code).toBe(2);
    expect((r.json as { error: { message: string } }).error.message).toMatch(message);
    expect(r.stdout + r.stderr).not.toContain(keyLine);
  });
});

describe('hub URL rewrite', () => {
  it('points the URL at the node end of the API forward, keeping scheme, path and query', () => {
    expect(rewriteHubUrl('http://10.0.0.5:8081/hub/api', 45678)).toBe('http://127.0.0.1:45678/hub/api');
    expect(rewriteHubUrl('http://hub:8081/hub/api/users/al%40ice/activity?x=1', 4)).toBe('http://127.0.0.1:4/hub/api/users/al%40ice/activity?x=1');
    expect(rewriteHubUrl('https://[::1]/hub/api', 4)).toBe('https://127.0.0.1:4/hub/api');
    expect(() => rewriteHubUrl('not a url', 4)).toThrow(/not a valid URL/);
  });
});

describe('host key check', () => {
  it('trusts only a listed key for that host and port, and says what was presented', () => {
    const keys = tunnelHostKeys([`[hub]:2222 ${hostKey.public}`], 'hub', 2222);
    expect(keys.algorithms).toEqual(['ssh-ed25519']);
    const refusals: string[] = [];
    const verify = keys.verifier((m) => refusals.push(m));
    expect(verify(hostBlob)).toBe(true);
    const other = Buffer.from(generateTunnelKey().publicKey.split(' ')[1]!, 'base64');
    expect(verify(other)).toBe(false);
    expect(refusals[0]).toMatch(/^REFUSED the hub's SSH host key at hub:2222: it presented ssh-ed25519 SHA256:\S+, but the bridge vouches only for ssh-ed25519 SHA256:/);
    expect(() => tunnelHostKeys([`otherhost ${hostKey.public}`], 'hub', 2222)).toThrow(/no usable known_hosts line for hub:2222/);
  });
});

// ---- the agent against the bridge's real tunnel endpoint, in this process ------------

function httpServer(answer: string): Promise<{ server: HttpServer; port: number }> {
  const server = createHttpServer((req, res) => res.end(`${answer} ${req.url}`));
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ server, port: (server.address() as AddressInfo).port })));
}

const httpGet = (port: number, path: string) =>
  new Promise<string>((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve(b));
    }).on('error', reject);
  });

describe('TunnelClient', () => {
  const cleanup: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function endpoint(apiPort = 1): Promise<TestEndpoint> {
    const e = await startTestEndpoint({ apiPort });
    cleanup.push(() => e.close());
    return e;
  }

  async function client(e: TestEndpoint, target: number, opts: Partial<ConstructorParameters<typeof TunnelClient>[0]> = {}) {
    const s = await e.session();
    const states: [TunnelState, string | null][] = [];
    const lines: string[] = [];
    const c = new TunnelClient({
      spec: s.spec,
      privateKey: s.grant.privateKey,
      target: { host: '127.0.0.1', port: target },
      onState: (st, err) => states.push([st, err]),
      say: (l) => lines.push(l),
      backoff: { initialMs: 50, maxMs: 200 },
      ...opts,
    });
    cleanup.push(() => c.stop());
    return { c, states, lines, s };
  }

  it('brings the forward up, relays the hub\'s connections on P, reconnects after a drop', async () => {
    const node = await httpServer('node');
    cleanup.push(() => new Promise((r) => node.server.close(r)));
    const e = await endpoint();
    const { c, states, lines, s } = await client(e, node.port);
    const P = s.grant.remotePort;
    await expect(httpGet(P, '/before')).rejects.toThrow(/ECONNRESET|socket hang up/); // no agent yet: refused, served by nobody
    c.start();
    await c.waitUp(10_000);
    expect(await httpGet(P, '/a')).toBe('node /a');
    expect(states.at(-1)).toEqual(['up', null]);
    expect(e.tunnels.state(s.sessionId)?.state).toBe('up');

    for (const a of e.tunnels.endpoint.agentsOf(s.sessionId)) a.close(50); // the hub side drops the connection
    await expect.poll(() => lines.some((l) => l.startsWith('tunnel down: '))).toBe(true);
    await c.waitUp(10_000);
    await expect.poll(() => e.tunnels.state(s.sessionId)?.state).toBe('up');
    expect(await httpGet(P, '/b')).toBe('node /b');
    expect(lines.filter((l) => l.startsWith(`tunnel up: hub 127.0.0.1:${P} → node 127.0.0.1:`))).toHaveLength(2);
    expect(states.map(([st]) => st)).toEqual(expect.arrayContaining(['connecting', 'up', 'down']));
    expect(e.changes.filter((ch) => ch.sessionId === s.sessionId).map((ch) => ch.state)).toEqual(['up', 'down', 'up']);
  });

  it('pushes the server phase on the status channel, again after a reconnect', async () => {
    const e = await endpoint();
    const { c, s } = await client(e, 1);
    const pushed: string[] = [];
    e.tunnels.on('status', (id, st) => id === s.sessionId && pushed.push(`${st.phase}:${st.port}`));
    c.start();
    await c.waitUp(10_000);
    c.reportPhase({ phase: 'listening', port: 4242 });
    await expect.poll(() => pushed).toEqual(['listening:4242']);
    for (const a of e.tunnels.endpoint.agentsOf(s.sessionId)) a.close(50);
    await expect.poll(() => pushed).toEqual(['listening:4242', 'listening:4242']);
  });

  it('the API forwarder opens the hub API through the live connection', async () => {
    const api = await httpServer('hub-api');
    cleanup.push(() => new Promise((r) => api.server.close(r)));
    const e = await endpoint(api.port);
    const { c, s } = await client(e, 1);
    const fwd = new HubApiForwarder({ hubApiPort: s.spec.hubApiPort!, live: (ms) => c.live(ms) });
    cleanup.push(() => fwd.close());
    const local = await fwd.listen();
    c.start(); // the forwarder's first connection waits for the tunnel
    expect(await httpGet(local, '/hub/api/users')).toBe('hub-api /hub/api/users');
  });

  it('a wrong host key fails at once with the refusal, no retry loop', async () => {
    const e = await endpoint();
    const other = generateTunnelKey().publicKey;
    const s = await e.session();
    const { c } = await client(e, 1, { spec: { ...s.spec, hostKeys: [`[127.0.0.1]:${e.port} ${other}`] } });
    c.start();
    const t0 = Date.now();
    await expect(c.waitUp(20_000)).rejects.toThrow(/^REFUSED the hub's SSH host key/);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('a forward the endpoint refuses (not this key\'s port) fails the start at once, saying so', async () => {
    const e = await endpoint();
    // the key's OWN session, asking for the port next to its own (which another session may
    // hold: the endpoint must refuse it either way)
    const s = await e.session();
    const c = new TunnelClient({
      spec: { ...s.spec, remotePort: s.grant.remotePort + 1 },
      privateKey: s.grant.privateKey,
      target: { host: '127.0.0.1', port: 1 },
      onState: () => {},
      say: () => {},
      backoff: { initialMs: 50, maxMs: 200 },
    });
    cleanup.push(() => c.stop());
    await e.session(); // a second session, which may well be granted exactly that port
    c.start();
    await expect(c.waitUp(20_000)).rejects.toThrow(new RegExp(`the bridge refused the forward of its 127\\.0\\.0\\.1:${s.grant.remotePort + 1} to this job`));
  });

  it('a revoked key keeps being retried with backoff (the job is being ended anyway), said once', async () => {
    const e = await endpoint();
    const { c, s, lines } = await client(e, 1);
    e.tunnels.end(s.sessionId);
    c.start();
    await expect(c.waitUp(1_500)).rejects.toThrow(/did not come up within 2 s: All configured authentication methods failed \(the bridge did not accept this job's tunnel key/);
    expect(lines.filter((l) => l.includes('authentication methods failed'))).toHaveLength(1);
  });

  it('nothing listening: the start times out naming the last error', async () => {
    const e = await endpoint();
    const s = await e.session();
    const port = await freeLoopbackPort();
    const { c, lines } = await client(e, 1, { spec: { ...s.spec, port, hostKeys: [`[127.0.0.1]:${port} ${e.tunnels.hostKey.publicKey}`] } });
    c.start();
    await expect(c.waitUp(1_000)).rejects.toThrow(new RegExp(`did not come up within 1 s: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
    expect(lines.filter((l) => l.includes('ECONNREFUSED'))).toHaveLength(1); // said once, not per retry
  });
});
