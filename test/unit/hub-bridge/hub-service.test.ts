// The bridge's JupyterHub service pages without a hub: the redirect to the hub's OAuth,
// then (with a login made directly, as the callback would) what a student may see and do —
// only their OWN sessions, a cancel that needs the form's CSRF token, every text escaped,
// scripts and styles only with the response's nonce. The OAuth round trip with the real
// JupyterHub is in test/system/student-ui.test.ts; the admin page is in admin-page.test.ts.
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import express from 'express';
import { HubOAuth } from '../../../hub-bridge/hub-service/hub-oauth.js';
import { LoginSessions, type Login } from '../../../hub-bridge/hub-service/login-sessions.js';
import { createHubServiceApp } from '../../../hub-bridge/hub-service/service-app.js';
import { startBridgeFixture, type BridgeFixture } from '../../support/bridge-fixture.js';

const PREFIX = '/services/hpc-bridge/';
let fx: BridgeFixture;
let app: express.Express;
let logins: LoginSessions;
const oauth = new HubOAuth({ hubApiUrl: 'http://127.0.0.1:9/hub/api', baseUrl: '/', serviceName: 'hpc-bridge', clientSecret: () => 'client-secret-0123456789' });

const cookie = (l: Login) => `hpcb-login=${l.id}`;
const sid = (n: number) => `s-${'abcdefgh'[n]!.repeat(26)}`;

function session(id: string, user: string, patch: Record<string, unknown> = {}) {
  fx.bridge.store.create({ id, user, serverName: '', profile: 'small', servicePrefix: `/user/${user}/`, submitDoc: '{}' }, null);
  return fx.bridge.store.update(id, { state: 'queued', jobId: `fork-${user}`, queuePosition: 3, reason: 'Priority', estimatedStart: '2026-11-29T10:51:00.000Z', ...patch });
}

beforeAll(async () => {
  fx = await startBridgeFixture();
  // the sessions below are made up (job ids no scheduler knows): the status poller must not
  // get to them (through the agent a poll takes milliseconds, not the second a one-shot took)
  await fx.bridge.poller.stop();
  logins = new LoginSessions(3600_000);
  app = createHubServiceApp({ store: fx.bridge.store, service: fx.bridge.service, oauth, logins, baseUrl: '/', log: pino({ level: 'silent' }) });
  session(sid(1), 'alice');
  session(sid(2), 'bob');
  session(sid(3), 'alice', { state: 'failed', message: 'Your server <b>stopped</b>.\n\n<script>alert(1)</script> details' });
});
afterAll(async () => {
  await fx?.close();
});

describe('hub service: login through the hub', () => {
  it('sends a visitor without a login to the hub\'s OAuth, with a state bound to the browser', async () => {
    const r = await request(app).get(`${PREFIX}sessions/${sid(1)}`).expect(302);
    const to = new URL(r.headers.location!, 'http://hub');
    expect(to.pathname).toBe('/hub/api/oauth2/authorize');
    expect(to.searchParams.get('client_id')).toBe('service-hpc-bridge');
    expect(to.searchParams.get('redirect_uri')).toBe('/services/hpc-bridge/oauth_callback');
    const state = to.searchParams.get('state')!;
    expect(state.length).toBeGreaterThanOrEqual(40);
    expect(String(r.headers['set-cookie'])).toContain(`hpcb-oauth-state=${state}; Path=/services/hpc-bridge/; HttpOnly; SameSite=Lax`);
  });

  it('refuses a callback whose state is not this browser\'s (no login CSRF), without asking the hub', async () => {
    const r = await request(app).get(`${PREFIX}oauth_callback?code=abc&state=forged`).set('Cookie', 'hpcb-oauth-state=other').expect(400);
    expect(r.text).toContain('This login link is not valid any more');
  });

  it('refuses a POST without a login (no redirect dance for forms)', async () => {
    await request(app).post(`${PREFIX}sessions/${sid(1)}/cancel`).type('form').send({ _csrf: 'x' }).expect(403);
    expect(fx.bridge.store.get(sid(1))!.state).toBe('queued');
  });
});

describe('hub service: a student\'s own sessions', () => {
  it('lists only the student\'s sessions, and shows the queue in words with the estimate "at the latest"', async () => {
    const alice = logins.create({ name: 'alice', admin: false, scopes: [] }, 'tok');
    const r = await request(app).get(PREFIX).set('Cookie', cookie(alice)).expect(200);
    expect(r.text).toContain(`${PREFIX}sessions/${sid(1)}`);
    expect(r.text).not.toContain(sid(2));
    expect(r.text).toMatch(/Waiting in the queue for [^<]*: 2 jobs ahead of yours \(other jobs have priority \(Priority\)\)\./);
    expect(r.text).toContain('<time datetime="2026-11-29T10:51:00.000Z" data-style="clock">10:51 UTC</time> <strong>at the latest</strong>');
  });

  it('answers 404 for someone else\'s session, as if it did not exist, and cannot cancel it', async () => {
    const alice = logins.create({ name: 'alice', admin: false, scopes: [] }, 'tok');
    const r = await request(app).get(`${PREFIX}sessions/${sid(2)}`).set('Cookie', cookie(alice)).expect(404);
    expect(r.text).toContain('There is no such session of yours');
    await request(app).post(`${PREFIX}sessions/${sid(2)}/cancel`).set('Cookie', cookie(alice)).type('form').send({ _csrf: alice.csrf }).expect(404);
    expect(fx.bridge.store.get(sid(2))!.state).toBe('queued');
  });

  it('cancels a start only with the form\'s CSRF token and from this site, as "by you"', async () => {
    const alice = logins.create({ name: 'alice', admin: false, scopes: [] }, 'tok');
    await request(app).post(`${PREFIX}sessions/${sid(1)}/cancel`).set('Cookie', cookie(alice)).type('form').send({}).expect(403);
    await request(app).post(`${PREFIX}sessions/${sid(1)}/cancel`).set('Cookie', cookie(alice)).set('Origin', 'https://evil.example').type('form').send({ _csrf: alice.csrf }).expect(403);
    expect(fx.bridge.store.get(sid(1))!.state).toBe('queued');
    const page = await request(app).get(`${PREFIX}sessions/${sid(1)}`).set('Cookie', cookie(alice)).expect(200);
    expect(page.text).toContain(`<input type="hidden" name="_csrf" value="${alice.csrf}">`);
    const r = await request(app).post(`${PREFIX}sessions/${sid(1)}/cancel`).set('Cookie', cookie(alice)).type('form').send({ _csrf: alice.csrf }).expect(303);
    expect(r.headers.location).toBe(`${PREFIX}sessions/${sid(1)}?done=cancel`);
    const s = fx.bridge.store.get(sid(1))!;
    expect([s.state, s.stoppedBy]).toEqual(['stopping', 'user']);
  });

  it('escapes every text and runs only its own nonce\'d script and style', async () => {
    const alice = logins.create({ name: 'alice', admin: false, scopes: [] }, 'tok');
    const r = await request(app).get(`${PREFIX}sessions/${sid(3)}`).set('Cookie', cookie(alice)).expect(200);
    expect(r.text).toContain('Your server &lt;b&gt;stopped&lt;/b&gt;.');
    expect(r.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt; details');
    expect(r.text).not.toContain('<script>alert');
    const csp = String(r.headers['content-security-policy']);
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)![1];
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(r.text.match(/<script[^>]*>/g)).toEqual([`<script nonce="${nonce}">`]);
    expect(r.headers['cache-control']).toBe('no-store');
  });

  it('a login ends with its lifetime', async () => {
    let now = 0;
    const short = new LoginSessions(1000, () => now);
    const l = short.create({ name: 'alice', admin: false, scopes: [] }, 'tok');
    expect(short.get(l.id)).not.toBeNull();
    now = 1001;
    expect(short.get(l.id)).toBeNull();
  });
});
