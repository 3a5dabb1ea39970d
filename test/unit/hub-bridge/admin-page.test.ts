// The admin page of the bridge's hub service, without a hub (logins made directly, as the
// OAuth callback would): who may see it (JupyterHub admins, holders of the admin scope;
// students get 403, visitors go to the hub's login), the stop that asks first and needs
// the form's CSRF token, recorded as stopped by an admin with an event naming who, every
// text escaped, and the usage summary equal to the report `hpc-bridge usage` prints.
// The real hub, browser and Slurm are in test/system/admin-ui.test.ts.
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type express from 'express';
import { usageQuery, usageReport } from '../../../hub-bridge/accounting/usage.js';
import { HubOAuth, type HubUser } from '../../../hub-bridge/hub-service/hub-oauth.js';
import { LoginSessions, type Login } from '../../../hub-bridge/hub-service/login-sessions.js';
import { createHubServiceApp } from '../../../hub-bridge/hub-service/service-app.js';
import { failureReason } from '../../../hub-bridge/hub-service/pages/admin-view.js';
import { TunnelHealthBoard } from '../../../hub-bridge/hub-service/tunnel-health.js';
import { startBridgeFixture, type BridgeFixture } from '../../support/bridge-fixture.js';

const PREFIX = '/services/hpc-bridge/';
const ADMIN = `${PREFIX}admin/`;
const SCOPE = 'custom:hpc-bridge:admin';
let fx: BridgeFixture;
let app: express.Express;
let logins: LoginSessions;
const tunnels = new TunnelHealthBoard();
const oauth = new HubOAuth({ hubApiUrl: 'http://127.0.0.1:9/hub/api', baseUrl: '/', serviceName: 'hpc-bridge', clientSecret: () => 'client-secret-0123456789' });

const cookie = (l: Login) => `hpcb-login=${l.id}`;
const sid = (n: number) => `s-${'abcdefgh'[n]!.repeat(26)}`;
const as = (user: Partial<HubUser> & { name: string }) => logins.create({ admin: false, scopes: [], ...user }, 'tok');

function session(id: string, user: string, patch: Record<string, unknown> = {}) {
  fx.bridge.store.create({ id, user, serverName: '', profile: 'small', servicePrefix: `/user/${user}/`, submitDoc: '{}' }, null);
  return fx.bridge.store.update(id, { state: 'queued', jobId: `fork-${user}`, queuePosition: 3, reason: 'Priority', ...patch });
}

beforeAll(async () => {
  fx = await startBridgeFixture();
  // the sessions below are made up (job ids no scheduler knows): the status poller must not
  // get to them (through the agent a poll takes milliseconds, not the second a one-shot took)
  await fx.bridge.poller.stop();
  logins = new LoginSessions(3600_000);
  app = createHubServiceApp({
    store: fx.bridge.store,
    service: fx.bridge.service,
    oauth,
    logins,
    baseUrl: '/',
    log: pino({ level: 'silent' }),
    accounting: fx.bridge.watch.accounting,
    tunnels,
    adminScope: SCOPE,
  });
  session(sid(1), 'alice', { tunnelPort: 41001, tunnelState: 'waiting', tunnelSince: new Date().toISOString() });
  const startedAt = new Date(Date.now() - 10 * 60_000).toISOString();
  // the tunnel's state comes from the session (the endpoint keeps it there); the reconnect count from the board
  const tunnelSince = new Date(Date.now() - 20 * 60_000).toISOString();
  const ready = session(sid(2), 'bob<b>', { state: 'ready', node: 'node7', startedAt, timeLimitSeconds: 1800, queuePosition: null, reason: null, tunnelPort: 41000, tunnelState: 'up', tunnelSince });
  tunnels.tunnel(ready, 'up', 'down');
  session(sid(5), 'erin', { state: 'ready', node: 'node8', startedAt, timeLimitSeconds: 1800, queuePosition: null, reason: null, tunnelPort: 41002, tunnelState: 'down', tunnelSince });
  session(sid(3), 'carol', { state: 'failed', reason: 'failed', message: 'Your server stopped while it was starting.\n\nJob 7 ended: state failed, exit code 3.\nLast lines of the job output:\n<script>alert(1)</script> ModuleNotFoundError' });
  session(sid(4), 'dave', { state: 'stopped', message: 'Your server was stopped.' });
  // a job the usage summary counts: submitted, ran 30 min on the profile's 1 CPU
  fx.bridge.store.recordJobSubmitted(fx.bridge.store.get(sid(4))!, '9001');
  fx.bridge.store.database.prepare("UPDATE jobs SET started_at = ?, ended_at = ?, req_cpus = 1 WHERE job_id = '9001'").run(new Date(Date.now() - 40 * 60_000).toISOString(), new Date(Date.now() - 10 * 60_000).toISOString());
});
afterAll(async () => {
  await fx?.close();
});

describe('admin page: who may see it', () => {
  it('sends a visitor without a login to the hub to log in, and refuses a stop POST without a login', async () => {
    const r = await request(app).get(ADMIN).expect(302);
    expect(new URL(r.headers.location!, 'http://hub').pathname).toBe('/hub/api/oauth2/authorize');
    await request(app).post(`${ADMIN}sessions/${sid(1)}/stop`).type('form').send({ _csrf: 'x' }).expect(403);
    expect(fx.bridge.store.get(sid(1))!.state).toBe('queued');
  });

  it('tells a student (no admin flag, no admin scope) in a plain sentence that it is not for them, for the page, the confirmation and the stop', async () => {
    const student = as({ name: 'alice', scopes: ['access:services!service=hpc-bridge'] });
    const r = await request(app).get(ADMIN).set('Cookie', cookie(student)).expect(403);
    expect(r.text).toContain("This page is for the hub&#39;s administrators. If you need it, ask them to give you access.");
    expect(r.text).not.toContain('bob');
    await request(app).get(`${ADMIN}sessions/${sid(1)}/stop`).set('Cookie', cookie(student)).expect(403);
    await request(app).post(`${ADMIN}sessions/${sid(1)}/stop`).set('Cookie', cookie(student)).type('form').send({ _csrf: student.csrf }).expect(403);
    expect(fx.bridge.store.get(sid(1))!.state).toBe('queued');
    // the students' own page has no admin link for them
    expect((await request(app).get(PREFIX).set('Cookie', cookie(student)).expect(200)).text).not.toContain(ADMIN);
  });

  it('a filtered scope or a different scope is not the admin scope', async () => {
    for (const scopes of [[`${SCOPE}!user=alice`], ['custom:hpc-bridge:admins'], ['admin:users']]) {
      await request(app).get(ADMIN).set('Cookie', cookie(as({ name: 'eve', scopes }))).expect(403);
    }
  });

  it('lets JupyterHub admins and holders of the admin scope in, with a link to it in the header', async () => {
    const hubAdmin = await request(app).get(ADMIN).set('Cookie', cookie(as({ name: 'root', admin: true }))).expect(200);
    expect(hubAdmin.text).toContain('<h1>Notebook sessions on the cluster</h1>');
    const tutor = await request(app).get(ADMIN).set('Cookie', cookie(as({ name: 'tutor', scopes: ['identify', SCOPE] }))).expect(200);
    expect(tutor.text).toContain(`<a href="${ADMIN}">Admin</a>`);
  });

  it('with adminScope null only JupyterHub admins get in', async () => {
    const strict = createHubServiceApp({ store: fx.bridge.store, service: fx.bridge.service, oauth, logins, baseUrl: '/', log: pino({ level: 'silent' }), adminScope: null });
    await request(strict).get(ADMIN).set('Cookie', cookie(as({ name: 'tutor', scopes: [SCOPE] }))).expect(403);
    await request(strict).get(ADMIN).set('Cookie', cookie(as({ name: 'root', admin: true }))).expect(200);
  });
});

describe('admin page: what it shows', () => {
  it('lists every live session with queue position, node, wall time left and tunnel health, escaped; ended ones are not live', async () => {
    const r = await request(app).get(ADMIN).set('Cookie', cookie(as({ name: 'root', admin: true }))).expect(200);
    const live = r.text.slice(r.text.indexOf('id="live-sessions"'), r.text.indexOf('id="failures"'));
    expect(live).toContain(`data-session="${sid(1)}"`);
    expect(live).toMatch(/<td>alice<\/td><td>Small<\/td><td class="wrap">queued \(other jobs have priority \(Priority\)\)<\/td><td>fork-alice<\/td><td>—<\/td>\s*<td class="num">3<\/td>/);
    expect(live).toContain('<td>bob&lt;b&gt;</td>');
    expect(live).not.toContain('<b>');
    expect(live).toMatch(/<td>20 min <span class="muted">\(until <time/);
    expect(live).toContain('<td class="tone-ok">up for 20 min, 1 reconnect</td>');
    expect(live).toContain('<td class="tone-bad">down for 20 min (the job&#39;s agent is reconnecting)</td>');
    expect(live).toContain('<td class="tone-neutral">waiting for the job to start</td>');
    expect(live).not.toContain(sid(3));
    expect(live).not.toContain(sid(4));
    expect(live.match(/>Stop…<\/button>/g)).toHaveLength(3);
  });

  it('shows recent failures with their reason, the student\'s sentence, and the output tail folded and escaped', async () => {
    const r = await request(app).get(ADMIN).set('Cookie', cookie(as({ name: 'root', admin: true }))).expect(200);
    const failures = r.text.slice(r.text.indexOf('id="failures"'), r.text.indexOf('<h2>Usage'));
    expect(failures).toContain('<td>carol</td>');
    expect(failures).toContain('the job ended with an error before the server was ready');
    expect(failures).toContain('Your server stopped while it was starting.<details><summary>Details and output tail</summary><pre>Job 7 ended');
    expect(failures).toContain('&lt;script&gt;alert(1)&lt;/script&gt; ModuleNotFoundError');
    expect(r.text).not.toContain('<script>alert');
  });

  it('words the scheduler\'s reasons for a job that ended in plain words, keeping the scheduler\'s term', () => {
    expect(failureReason('NonZeroExitCode')).toBe('the job ended with an error before the server was ready (scheduler: NonZeroExitCode)');
    expect(failureReason('OutOfMemory')).toBe('the job ran out of memory before the server was ready (scheduler: OutOfMemory)');
    expect(failureReason('Prolog')).toBe('the job ended before the server was ready (scheduler: Prolog)');
    expect(failureReason('toString')).toBe('the job ended before the server was ready (scheduler: toString)');
  });

  it('summarises usage from the 1st of this month by user, with the same figures as `hpc-bridge usage`', async () => {
    const root = as({ name: 'root', admin: true });
    const r = await request(app).get(ADMIN).set('Cookie', cookie(root)).expect(200);
    const now = new Date();
    const from = `${now.toISOString().slice(0, 7)}-01`;
    expect(r.text).toContain(`<input type="date" name="from" value="${from}" required>`);
    const command = /<code id="usage-command">hpc-bridge usage --from (\S+) --to (\S+) --by user<\/code>/.exec(r.text);
    expect(command?.[1]).toBe(from);
    const expected = usageReport(usageQuery({ from, to: command![2], by: 'user' }), fx.bridge.watch.accounting.rows(new Date(`${from}T00:00:00Z`), new Date(command![2]!)));
    expect(expected.rows.map((l) => l.key)).toEqual(['dave']);
    expect(r.text).toContain(`<tr data-key="dave"><td>dave</td><td class="num">1</td><td class="num">1</td><td class="num">${expected.rows[0]!.cpuHours.toFixed(3)}</td><td class="num">0.000</td>`);
    expect(expected.rows[0]!.cpuHours).toBeCloseTo(0.5, 2);
    expect(r.text).toContain('without a scheduler accounting record');
  });

  it('groups by profile on request, and says what is wrong with a bad period (400)', async () => {
    const root = as({ name: 'root', admin: true });
    const by = await request(app).get(`${ADMIN}?by=profile`).set('Cookie', cookie(root)).expect(200);
    expect(by.text).toContain('<tr data-key="small"><td>small</td>');
    expect(by.text).toContain('<option value="profile" selected>');
    const bad = await request(app).get(`${ADMIN}?from=2026-13-45`).set('Cookie', cookie(root)).expect(400);
    expect(bad.text).toContain('from must be a date (2026-11-01, UTC midnight)');
    expect(bad.text).toContain('id="live-sessions"'); // the rest of the page is still there
    const twice = await request(app).get(`${ADMIN}?by=user&by=day`).set('Cookie', cookie(root)).expect(400);
    expect(twice.text).toContain('by must be given once');
  });
});

describe('admin page: stopping a session', () => {
  it('asks first: the confirmation page names the session and carries the CSRF token', async () => {
    const root = as({ name: 'root', admin: true });
    const r = await request(app).get(`${ADMIN}sessions/${sid(1)}/stop`).set('Cookie', cookie(root)).expect(200);
    expect(r.text).toContain('<h1>Stop session 1 of alice?</h1>');
    expect(r.text).toContain(`<form method="post" action="${ADMIN}sessions/${sid(1)}/stop"><input type="hidden" name="_csrf" value="${root.csrf}">`);
    expect(fx.bridge.store.get(sid(1))!.state).toBe('queued'); // asking changes nothing
    await request(app).get(`${ADMIN}sessions/s-nosuchsession/stop`).set('Cookie', cookie(root)).expect(404);
  });

  it('stops only with the CSRF token and from this site, as stopped by the admin, with an event naming who', async () => {
    const root = as({ name: 'root', admin: true });
    await request(app).post(`${ADMIN}sessions/${sid(1)}/stop`).set('Cookie', cookie(root)).type('form').send({}).expect(403);
    await request(app).post(`${ADMIN}sessions/${sid(1)}/stop`).set('Cookie', cookie(root)).type('form').send({ _csrf: 'x'.repeat(43) }).expect(403);
    await request(app).post(`${ADMIN}sessions/${sid(1)}/stop`).set('Cookie', cookie(root)).set('Origin', 'https://evil.example').type('form').send({ _csrf: root.csrf }).expect(403);
    // another admin's token is not this login's
    const other = as({ name: 'root2', admin: true });
    await request(app).post(`${ADMIN}sessions/${sid(1)}/stop`).set('Cookie', cookie(root)).type('form').send({ _csrf: other.csrf }).expect(403);
    expect(fx.bridge.store.get(sid(1))!.state).toBe('queued');

    const r = await request(app).post(`${ADMIN}sessions/${sid(1)}/stop`).set('Cookie', cookie(root)).type('form').send({ _csrf: root.csrf }).expect(303);
    expect(r.headers.location).toBe(`${ADMIN}?stopped=${sid(1)}`);
    const s = fx.bridge.store.get(sid(1))!;
    expect([s.state, s.stoppedBy]).toEqual(['stopping', 'admin']);
    expect(fx.bridge.store.events(sid(1)).map((e) => e.message)).toContain('Cancelling the start: the administrator root stopped it on the admin page');

    const after = await request(app).get(r.headers.location!).set('Cookie', cookie(root)).expect(200);
    expect(after.text).toContain('Stop requested: Session 1 of alice (job fork-alice) is being stopped.');
    expect(after.text).toMatch(/<meta http-equiv="refresh" content="3">/);
    expect(after.text).toContain('<span class="muted">stopping</span>');
    // a second stop (a reloaded form) only shows where it stands
    await request(app).post(`${ADMIN}sessions/${sid(1)}/stop`).set('Cookie', cookie(root)).type('form').send({ _csrf: root.csrf }).expect(303);
  });
});
