// The compute side of the tunnel without a real sshd (the system suite has one): the
// startjob `tunnel` field and where its private key lands, the hub URL rewrite, the host
// key check, and the agent's connection logic against an in-process ssh2 server that
// refuses the first forward requests (as sshd does while a dropped connection still holds
// the port) and can be cut off.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer as createHttpServer, get, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateTunnelKey } from '../../../hub-bridge/tunnel/tunnel-keys.js';
import { rewriteHubUrl } from '../../../hpc-wrappers/start-env/tunnel-agent.js';
import { HubApiForwarder } from '../../../hpc-wrappers/start-env/tunnel-api-forwarder.js';
import { TunnelClient } from '../../../hpc-wrappers/start-env/tunnel-client.js';
import { tunnelHostKeys } from '../../../hpc-wrappers/start-env/tunnel-host-key.js';
import type { TunnelState } from '../../../hpc-wrappers/run-dir-files.js';
import { startFakeSshHub } from './support/fake-ssh-hub.js';
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

// ---- the agent against an in-process ssh2 server -------------------------------------

const fakeHub = (o: { refuseForwards: number; apiPort: number }) =>
  startFakeSshHub({ hostPrivateKey: hostKey.private, clientPrivateKey: jobKey.privateKey, ...o });

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

  function client(port: number, target: number, opts: Partial<ConstructorParameters<typeof TunnelClient>[0]> = {}) {
    const states: [TunnelState, string | null][] = [];
    const lines: string[] = [];
    const c = new TunnelClient({
      spec: { host: '127.0.0.1', port, user: 'tunnelbot', hostKeys: [`[127.0.0.1]:${port} ${hostKey.public}`], remotePort: 40123, hubApiPort: 1, keepaliveIntervalSeconds: 5 },
      privateKey: jobKey.privateKey,
      target: { host: '127.0.0.1', port: target },
      onState: (s, e) => states.push([s, e]),
      say: (l) => lines.push(l),
      backoff: { initialMs: 50, maxMs: 200 },
      ...opts,
    });
    cleanup.push(() => c.stop());
    return { c, states, lines };
  }

  it('retries a refused forward on the same connection, relays hub connections, reconnects after a drop', async () => {
    const node = await httpServer('node');
    cleanup.push(() => new Promise((r) => node.server.close(r)));
    const hub = await fakeHub({ refuseForwards: 2, apiPort: 1 });
    cleanup.push(() => hub.close());
    const { c, states, lines } = client(hub.port, node.port);
    c.start();
    await c.waitUp(10_000);
    expect(hub.refusedForwards).toBe(2);
    expect(lines.some((l) => /refused to listen on 127\.0\.0\.1:40123/.test(l))).toBe(true);
    expect(await hub.fetchThroughForward('/a')).toBe('node /a');
    expect(states.at(-1)).toEqual(['up', null]);

    hub.dropClients();
    await expect.poll(() => lines.some((l) => l.startsWith('tunnel down: '))).toBe(true);
    await c.waitUp(10_000);
    expect(await hub.fetchThroughForward('/b')).toBe('node /b');
    expect(lines.filter((l) => l.startsWith('tunnel up: hub 127.0.0.1:40123 → node 127.0.0.1:'))).toHaveLength(2);
    expect(states.map(([s]) => s)).toEqual(expect.arrayContaining(['connecting', 'up', 'down']));
  });

  it('the API forwarder opens the hub API through the live connection', async () => {
    const api = await httpServer('hub-api');
    cleanup.push(() => new Promise((r) => api.server.close(r)));
    const hub = await fakeHub({ refuseForwards: 0, apiPort: api.port });
    cleanup.push(() => hub.close());
    const { c } = client(hub.port, 1);
    const fwd = new HubApiForwarder({ hubApiPort: api.port, live: (ms) => c.live(ms) });
    cleanup.push(() => fwd.close());
    const local = await fwd.listen();
    c.start(); // the forwarder's first connection waits for the tunnel
    expect(await httpGet(local, '/hub/api/users')).toBe('hub-api /hub/api/users');
  });

  it('a wrong host key fails at once with the refusal, no retry loop', async () => {
    const hub = await fakeHub({ refuseForwards: 0, apiPort: 1 });
    cleanup.push(() => hub.close());
    const other = generateTunnelKey().publicKey;
    const { c } = client(hub.port, 1, {
      spec: { host: '127.0.0.1', port: hub.port, user: 'tunnelbot', hostKeys: [`[127.0.0.1]:${hub.port} ${other}`], remotePort: 40123, hubApiPort: 1, keepaliveIntervalSeconds: 5 },
    });
    c.start();
    const t0 = Date.now();
    await expect(c.waitUp(20_000)).rejects.toThrow(/^REFUSED the hub's SSH host key/);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('nothing listening: the start times out naming the last error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunnel-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const probe = createHttpServer();
    const port = await new Promise<number>((r) => probe.listen(0, '127.0.0.1', () => r((probe.address() as AddressInfo).port)));
    await new Promise((r) => probe.close(r));
    const { c, lines } = client(port, 1);
    c.start();
    await expect(c.waitUp(1_000)).rejects.toThrow(new RegExp(`did not come up within 1 s: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
    expect(lines.filter((l) => l.includes('ECONNREFUSED'))).toHaveLength(1); // said once, not per retry
  });
});
