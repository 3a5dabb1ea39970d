// The gateway over real HTTPS (self-signed certificate), with the scheduler's answers
// scripted (ScriptedJobs, a stand-in for `hpc-wrap launch-jobs`; the real one runs in
// test/system/launch-gateway.test.ts) and a notebook stand-in that demands the notebook
// token, echoes what it received and answers WebSocket upgrades.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatComment, jupyterToken, randomSecret, secretHash, TOKEN_PARAM } from '../../../contract/launch.js';
import { gatewayFixture, httpsTo, ScriptedJobs, upgradeTo, type GatewayFixture } from '../../support/gateway-fixture.js';

let backend: Server;
let backendPort: number;
const received: IncomingMessage[] = [];
let fx: GatewayFixture;
const jobs = new ScriptedJobs();
let ca: string;

function backendServer(): Server {
  const s = createServer((req, res) => {
    received.push(req);
    const expected = req.headers['x-expect-token'];
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('token ') || (expected && auth !== `token ${expected}`)) {
      res.writeHead(403).end('no token');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ url: req.url, method: req.method, headers: req.headers }));
  });
  s.on('upgrade', (req, socket) => {
    received.push(req);
    if (!(req.headers.authorization ?? '').startsWith('token ')) return socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n');
    socket.on('data', (d) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
  });
  return s;
}

beforeAll(async () => {
  backend = backendServer();
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', () => r()));
  backendPort = (backend.address() as AddressInfo).port;
  fx = await gatewayFixture({ nodes: { addresses: { cn1: '127.0.0.1' } }, registration: { maxRoutesPerUser: 3 } }, { jobs });
  ca = readFileSync(fx.cert, 'utf8');
});
afterAll(async () => {
  await fx?.close();
  backend?.close();
});

const gwHost = () => `gw.test:${fx.gateway.port}`;
const labelHost = (label: string) => `${label}.gw.test:${fx.gateway.port}`;

async function register(body: Record<string, unknown>) {
  const r = await httpsTo(fx.gateway.port, ca, { host: gwHost(), path: '/_hpcwrap/v1/routes', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: JSON.parse(r.body) as Record<string, any> };
}

let nextJob = 500;
/** A launch as hpc-wrap makes it: secret, pending job with the comment, registered; returns the one-time token too. */
async function launched(owner = `user${nextJob}`) {
  const secret = randomSecret();
  const token = randomSecret();
  const jobId = String(nextJob++);
  jobs.set(jobId, { user: owner, state: 'pending', comment: formatComment(secretHash(secret)), position: 2, estimatedStart: '2030-01-01T10:00:00Z', reason: 'Priority' });
  const reg = await register({ version: 1, jobId, secret, tokenHash: secretHash(token) });
  return { secret, token, jobId, reg, label: reg.json.label as string };
}

async function redeem(label: string, token: string) {
  const r = await httpsTo(fx.gateway.port, ca, { host: labelHost(label), path: `/tree?${TOKEN_PARAM}=${token}&x=1`, headers: { accept: 'text/html' } });
  const cookie = String(r.headers['set-cookie'] ?? '').split(';')[0] ?? '';
  return { r, cookie };
}

async function waitFor<T>(what: string, f: () => Promise<T | null> | T | null, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const audit = () => readFileSync(fx.gateway.auditFile, 'utf8');

describe('registration', () => {
  it('issues a 128-bit label bound to the job owner, only with the secret whose hash the job carries', async () => {
    const { reg, jobId } = await launched('alice');
    expect(reg.status).toBe(201);
    expect(reg.json.label).toMatch(/^[a-z2-7]{26}$/);
    expect(reg.json).toMatchObject({ owner: 'alice', mode: 'subdomain', url: `https://${reg.json.label}.gw.test/` });
    expect(audit()).toContain(`"event":"issue"`);
    // the same job, another user's guess of the secret (the comment shows only its hash)
    const wrong = await register({ version: 1, jobId, secret: randomSecret(), tokenHash: secretHash('x') });
    expect(wrong.status).toBe(403);
    expect(wrong.json.error.message).toContain("does not carry this launch's secret");
    // the hash itself (public, in squeue) is not the secret
    const hash = secretHash(randomSecret());
    jobs.set('999', { user: 'alice', comment: formatComment(hash) });
    expect((await register({ version: 1, jobId: '999', secret: hash, tokenHash: secretHash('x') })).status).toBe(403);
    expect(audit()).toContain('"event":"register-refused"');
  });

  it('refuses jobs that are not queued or running, unknown jobs and malformed requests; a retry of the same launch gets the same label', async () => {
    const secret = randomSecret();
    jobs.set('600', { user: 'alice', state: 'done', comment: formatComment(secretHash(secret)) });
    expect((await register({ version: 1, jobId: '600', secret, tokenHash: secretHash('t') })).json.error.message).toMatch(/is done, not queued or running/);
    expect((await register({ version: 1, jobId: '601', secret, tokenHash: secretHash('t') })).status).toBe(403);
    const bad = await register({ version: 1, jobId: '1; rm -rf /', secret, tokenHash: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).not.toContain(secret);
    const { secret: s2, jobId, label } = await launched();
    const again = await register({ version: 1, jobId, secret: s2, tokenHash: secretHash('t2') });
    expect(again.status).toBe(200);
    expect(again.json.label).toBe(label);
  });

  it('caps the live routes of one user (registration.maxRoutesPerUser)', async () => {
    await launched('carol');
    await launched('carol');
    await launched('carol');
    const fourth = await launched('carol');
    expect(fourth.reg.status).toBe(429);
  });

  it('checks many registrations with few scheduler calls', async () => {
    jobs.delayMs = 150; // what one `hpc-wrap launch-jobs` over SSH takes, roughly
    const before = jobs.calls.filter((c) => c.ids.length).length;
    const many = await Promise.all(Array.from({ length: 40 }, (_, i) => launched(`batch${i}`)));
    expect(many.every((m) => m.reg.status === 201)).toBe(true);
    const calls = jobs.calls.filter((c) => c.ids.length).length - before;
    expect(calls).toBeLessThan(20); // one per registration without batching
    jobs.delayMs = 20;
  });
});

describe('the one-time link and the session cookie', () => {
  it('the first visit exchanges the token for an HttpOnly Secure host-only cookie; the URL is useless afterwards', async () => {
    const { label, token } = await launched();
    const { r, cookie } = await redeem(label, token);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/tree?x=1');
    const set = String(r.headers['set-cookie']);
    expect(set).toMatch(/^__Host-hpcwrap=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
    // the waiting page, with the job's state, for the cookie
    const page = await httpsTo(fx.gateway.port, ca, { host: labelHost(label), path: '/', headers: { cookie, accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('is queued, position 2 in the queue, estimated start 2030-01-01 10:00 UTC (Priority)');
    expect(page.body).toContain('http-equiv="refresh"');
    // the same URL again (another browser): refused, and so is the page without the cookie
    expect((await redeem(label, token)).r.status).toBe(403);
    expect((await httpsTo(fx.gateway.port, ca, { host: labelHost(label), path: '/' })).status).toBe(403);
    expect(audit()).toContain('"event":"redeem-refused"');
    // a link with a token on a browser that has the session just drops the token
    const again = await httpsTo(fx.gateway.port, ca, { host: labelHost(label), path: `/?${TOKEN_PARAM}=${token}`, headers: { cookie } });
    expect(again.status).toBe(303);
    expect(again.headers['set-cookie']).toBeUndefined();
  });

  it('a cookie opens only its own route; a guessed label and a near miss get the same refusal as a used link', async () => {
    const a = await launched();
    const b = await launched();
    const { cookie } = await redeem(a.label, a.token);
    expect((await httpsTo(fx.gateway.port, ca, { host: labelHost(b.label), path: '/', headers: { cookie } })).status).toBe(403);
    const guessed = await httpsTo(fx.gateway.port, ca, { host: labelHost('a'.repeat(26)), path: `/?${TOKEN_PARAM}=${a.token}` });
    const near = await httpsTo(fx.gateway.port, ca, { host: labelHost(`${a.label.slice(0, 25)}${a.label[25] === 'a' ? 'b' : 'a'}`), path: '/', headers: { cookie } });
    const used = (await redeem(a.label, a.token)).r;
    expect([guessed.status, near.status, used.status]).toEqual([403, 403, 403]);
    expect(guessed.body).toBe(near.body);
    expect(near.body).toBe(used.body);
  });

  it('`url --new`: a new one-time token for the route (proof: the secret); cookies already issued stay valid', async () => {
    const l = await launched();
    const { cookie } = await redeem(l.label, l.token);
    const token2 = randomSecret();
    const r = await httpsTo(fx.gateway.port, ca, { host: gwHost(), path: '/_hpcwrap/v1/routes/token', method: 'POST', body: JSON.stringify({ version: 1, secret: l.secret, tokenHash: secretHash(token2) }) });
    expect(r.status).toBe(200);
    expect((await redeem(l.label, token2)).r.status).toBe(303);
    expect((await httpsTo(fx.gateway.port, ca, { host: labelHost(l.label), path: '/', headers: { cookie, accept: 'text/html' } })).status).toBe(200);
  });
});

describe('routing follows the scheduler', () => {
  it('routes only once the job runs on the node the scheduler names, at the port its comment announces, and the server answers with the token', async () => {
    const l = await launched();
    const { cookie } = await redeem(l.label, l.token);
    const get = (path: string, headers: Record<string, string> = {}) => httpsTo(fx.gateway.port, ca, { host: labelHost(l.label), path, headers: { cookie, accept: 'text/html', ...headers } });
    jobs.set(l.jobId, { state: 'running', node: 'cn1', comment: formatComment(secretHash(l.secret)), position: null });
    const starting = await waitFor('the starting page', async () => {
      const r = await get('/');
      return r.body.includes('running on cn1') ? r : null;
    });
    expect(starting.body).toContain('preparing the environment and starting Jupyter');
    jobs.set(l.jobId, { comment: formatComment(secretHash(l.secret), backendPort) });
    const proxied = await waitFor('the notebook', async () => {
      const r = await get('/api/contents?x=1', { 'x-expect-token': jupyterToken(l.secret), cookie: `${cookie}; _xsrf=abc` });
      return r.status === 200 && r.body.startsWith('{') ? r : null;
    });
    const seen = JSON.parse(proxied.body) as { url: string; headers: Record<string, string> };
    expect(seen.url).toBe('/api/contents?x=1');
    expect(seen.headers.authorization).toBe(`token ${jupyterToken(l.secret)}`);
    expect(seen.headers.cookie).toBe('_xsrf=abc'); // never the gateway's session
    expect(seen.headers.host).toBe(labelHost(l.label)); // the notebook compares Origin with Host
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(audit()).toMatch(/"event":"route-up".*"node":"cn1"/);
  });

  it('WebSocket upgrades with the session are proxied with the token; without it, or from another origin, refused', async () => {
    const l = await launched();
    const { cookie } = await redeem(l.label, l.token);
    jobs.set(l.jobId, { state: 'running', node: 'cn1', comment: formatComment(secretHash(l.secret), backendPort) });
    await waitFor('ready', () => fx.gateway.table.find(l.label)?.live.ready ?? null);
    const origin = `https://${labelHost(l.label)}`;
    const ok = await upgradeTo(fx.gateway.port, ca, { host: labelHost(l.label), path: '/api/kernels/k1/channels', headers: { cookie, origin } });
    expect(ok.status).toBe(101);
    const echoed = await new Promise<string>((r) => {
      ok.socket!.once('data', (d: Buffer) => r(d.toString()));
      ok.socket!.write('ping');
    });
    expect(echoed).toBe('echo:ping');
    ok.socket!.destroy();
    expect(received.at(-1)!.headers.authorization).toBe(`token ${jupyterToken(l.secret)}`);
    expect((await upgradeTo(fx.gateway.port, ca, { host: labelHost(l.label), path: '/api/kernels/k1/channels', headers: { origin } })).status).not.toBe(101);
    const foreign = await upgradeTo(fx.gateway.port, ca, { host: labelHost(l.label), path: '/api/kernels/k1/channels', headers: { cookie, origin: 'https://evil.example' } });
    expect(foreign.status).not.toBe(101);
  });

  it('refuses state-changing requests from another origin or another session (Sec-Fetch-Site same-site)', async () => {
    const l = await launched();
    const { cookie } = await redeem(l.label, l.token);
    jobs.set(l.jobId, { state: 'running', node: 'cn1', comment: formatComment(secretHash(l.secret), backendPort) });
    await waitFor('ready', () => fx.gateway.table.find(l.label)?.live.ready ?? null);
    const post = (headers: Record<string, string>) => httpsTo(fx.gateway.port, ca, { host: labelHost(l.label), path: '/api/contents', method: 'POST', headers: { cookie, ...headers }, body: '{}' });
    expect((await post({ origin: 'https://evil.example' })).status).toBe(403);
    expect((await post({ 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect((await post({ origin: `https://${labelHost(l.label)}`, 'sec-fetch-site': 'same-origin' })).status).toBe(200);
  });

  it('a keep-alive successor takes the route over; a job of another user with the same hash never does', async () => {
    const l = await launched();
    const comment = formatComment(secretHash(l.secret), backendPort);
    jobs.set(l.jobId, { state: 'running', node: 'cn1', comment });
    await waitFor('ready', () => fx.gateway.table.find(l.label)?.live.ready ?? null);
    const owner = fx.gateway.table.find(l.label)!.record.owner;
    jobs.set('7001', { user: 'mallory', state: 'running', node: 'cn1', comment }); // copied from squeue
    jobs.set('7000', { user: owner, state: 'pending', comment: formatComment(secretHash(l.secret)) }); // successor
    jobs.set(l.jobId, { state: 'failed' }); // TIMEOUT
    await waitFor('the successor', () => (fx.gateway.table.find(l.label)?.record.jobId === '7000' ? true : null));
    expect(fx.gateway.table.find(l.label)!.live.ready).toBe(false);
    expect(audit()).toMatch(/"event":"job-moved".*"jobId":"7000"/);
    jobs.set('7000', { state: 'cancelled' });
    await waitFor('the route to end', () => (fx.gateway.table.find(l.label)?.live.endedAt ? true : null));
    expect(fx.gateway.table.find(l.label)!.record.jobId).toBe('7000');
  });

  it('a route is removed in the first poll after its job ends; the label then shows "ended" to its cookie and proxies nothing', async () => {
    const l = await launched();
    const { cookie } = await redeem(l.label, l.token);
    jobs.set(l.jobId, { state: 'running', node: 'cn1', comment: formatComment(secretHash(l.secret), backendPort) });
    await waitFor('ready', () => fx.gateway.table.find(l.label)?.live.ready ?? null);
    const t0 = Date.now();
    jobs.set(l.jobId, { state: 'cancelled' });
    await waitFor('removal', () => (fx.gateway.table.find(l.label)?.live.endedAt ? true : null));
    expect(Date.now() - t0).toBeLessThan(2000);
    const r = await httpsTo(fx.gateway.port, ca, { host: labelHost(l.label), path: '/api/status', headers: { cookie, accept: 'text/html' } });
    expect(r.status).toBe(410);
    expect(r.body).toContain('This session has ended');
    expect(audit()).toMatch(/"event":"removed"/);
  });

  it('`stop` removes the route at once (proof: the secret)', async () => {
    const l = await launched();
    const r = await httpsTo(fx.gateway.port, ca, { host: gwHost(), path: '/_hpcwrap/v1/routes/delete', method: 'POST', body: JSON.stringify({ version: 1, secret: l.secret }) });
    expect(JSON.parse(r.body)).toEqual({ removed: true });
    expect(fx.gateway.table.find(l.label)!.live.endedAt).not.toBeNull();
  });

  it('an unreachable scheduler keeps routes (a slurmctld restart is not the end of a session)', async () => {
    const l = await launched();
    jobs.reachable = false;
    await sleep(800);
    expect(fx.gateway.table.find(l.label)!.live.endedAt).toBeNull();
    jobs.reachable = true;
  });

  it('never writes a token, cookie, label or secret to the audit log', async () => {
    const l = await launched();
    const { cookie } = await redeem(l.label, l.token);
    const text = audit();
    for (const s of [l.token, l.secret, l.label, cookie.split('=')[1]!, jupyterToken(l.secret)]) expect(text).not.toContain(s);
  });
});

describe('path mode (https://<domain>/<label>/)', () => {
  it('redeems into a cookie scoped to /<label>/, proxies the full path (the server runs with base_url /<label>/), redirects /<label> to /<label>/', async () => {
    const pjobs = new ScriptedJobs();
    const p = await gatewayFixture({ mode: 'path', nodes: { addresses: { cn1: '127.0.0.1' } } }, { jobs: pjobs });
    try {
      const host = `gw.test:${p.gateway.port}`;
      const pca = readFileSync(p.cert, 'utf8');
      const secret = randomSecret();
      const token = randomSecret();
      pjobs.set('1', { user: 'alice', state: 'running', node: 'cn1', comment: formatComment(secretHash(secret), backendPort) });
      const reg = await httpsTo(p.gateway.port, pca, { host, path: '/_hpcwrap/v1/routes', method: 'POST', body: JSON.stringify({ version: 1, jobId: '1', secret, tokenHash: secretHash(token) }) });
      const { label, url, mode } = JSON.parse(reg.body) as { label: string; url: string; mode: string };
      expect(mode).toBe('path');
      expect(url).toBe(`https://gw.test/${label}/`);
      const bare = await httpsTo(p.gateway.port, pca, { host, path: `/${label}?${TOKEN_PARAM}=${token}` });
      expect(bare.status).toBe(301);
      expect(bare.headers.location).toBe(`/${label}/?${TOKEN_PARAM}=${token}`);
      const redeemed = await httpsTo(p.gateway.port, pca, { host, path: `/${label}/?${TOKEN_PARAM}=${token}` });
      expect(redeemed.status).toBe(303);
      expect(redeemed.headers.location).toBe(`/${label}/`);
      expect(String(redeemed.headers['set-cookie'])).toMatch(new RegExp(`^__Secure-hpcwrap=[A-Za-z0-9_-]{43}; Path=/${label}/; Secure; HttpOnly; SameSite=Lax$`));
      const cookie = String(redeemed.headers['set-cookie']).split(';')[0]!;
      await waitFor('ready', () => p.gateway.table.find(label)?.live.ready ?? null);
      const r = await httpsTo(p.gateway.port, pca, { host, path: `/${label}/api/status`, headers: { cookie } });
      expect(r.status).toBe(200);
      expect((JSON.parse(r.body) as { url: string }).url).toBe(`/${label}/api/status`);
      // another label's path with this cookie: refused
      expect((await httpsTo(p.gateway.port, pca, { host, path: `/${'c'.repeat(26)}/api/status`, headers: { cookie } })).status).toBe(403);
    } finally {
      await p.close();
    }
  });
});
