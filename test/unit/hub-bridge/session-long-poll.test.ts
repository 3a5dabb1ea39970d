// GET /v1/sessions/:id?waitWhile=STATE: a long poll that answers the moment the session has
// left STATE (the stock batchspawner submit helper waits for "handed to the scheduler" this
// way instead of sleeping between polls), or when waitSeconds are up, against a real bridge
// (fork scheduler, hpc-wrap bundle).
import { request as httpRequest } from 'node:http';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridgeFixture, STAND_IN_SERVER, waitFor, type BridgeFixture } from '../../support/bridge-fixture.js';

let fx: BridgeFixture;
const api = () => request(fx.bridge.server);
const body = (user: string) => ({
  user,
  env: { JUPYTERHUB_API_TOKEN: 'hub-secret-token-0123456789', JUPYTERHUB_SERVICE_PREFIX: `/user/${user}/`, JUPYTERHUB_USER: user },
  command: [process.execPath, STAND_IN_SERVER],
});

beforeAll(async () => {
  fx = await startBridgeFixture();
});
afterAll(async () => {
  await fx?.close();
});

describe('GET /v1/sessions/:id?waitWhile=', () => {
  it('answers only once the session has left the state: right after the POST, the first answer already has the job', async () => {
    const ids: string[] = [];
    for (const user of ['lp1', 'lp2', 'lp3']) {
      const created = await api().post('/v1/sessions').set(fx.auth).send(body(user)).expect(201);
      ids.push(created.body.id);
      const res = await api().get(`/v1/sessions/${created.body.id}?waitWhile=submitting&waitSeconds=30`).set(fx.auth).expect(200);
      expect(res.body.state).not.toBe('submitting');
      expect(res.body.jobId).toMatch(/^fork-\d+$/);
    }
    for (const id of ids) await api().delete(`/v1/sessions/${id}`).set(fx.auth).expect(202);
  });

  it('answers at once when the session is not in that state, and after waitSeconds when it stays in it', async () => {
    const created = await api().post('/v1/sessions').set(fx.auth).send(body('lp4')).expect(201);
    const id = created.body.id as string;
    await waitFor('ready', async () => ((await api().get(`/v1/sessions/${id}`).set(fx.auth)).body.state === 'ready' ? true : undefined));
    const t0 = Date.now();
    const other = await api().get(`/v1/sessions/${id}?waitWhile=queued`).set(fx.auth).expect(200);
    expect(other.body.state).toBe('ready');
    const quick = Date.now() - t0;
    const t1 = Date.now();
    const same = await api().get(`/v1/sessions/${id}?waitWhile=ready&waitSeconds=1`).set(fx.auth).expect(200);
    expect(same.body.state).toBe('ready');
    expect(Date.now() - t1).toBeGreaterThanOrEqual(950); // it did wait for the change that did not come
    expect(quick).toBeLessThan(Date.now() - t1);
    // a stop ends a wait on "ready" as soon as the session changes
    const waiting = api().get(`/v1/sessions/${id}?waitWhile=ready&waitSeconds=60`).set(fx.auth);
    const pending = waiting.then((r) => r);
    await new Promise((r) => setTimeout(r, 200));
    await api().delete(`/v1/sessions/${id}`).set(fx.auth).expect(202);
    const after = await pending;
    expect(after.status).toBe(200);
    expect(['stopping', 'stopped']).toContain(after.body.state);
  });

  it('a client that goes away leaves no listener behind', async () => {
    const created = await api().post('/v1/sessions').set(fx.auth).send(body('lp5')).expect(201);
    const id = created.body.id as string;
    await waitFor('ready', async () => ((await api().get(`/v1/sessions/${id}`).set(fx.auth)).body.state === 'ready' ? true : undefined));
    const events = fx.bridge.service.events;
    const before = events.listenerCount(id);
    const url = new URL(`/v1/sessions/${id}?waitWhile=ready&waitSeconds=60`, fx.bridge.url);
    const req = httpRequest(url, { headers: fx.auth });
    req.on('error', () => {});
    req.end();
    await waitFor('the wait is registered', () => (events.listenerCount(id) > before ? true : undefined));
    req.destroy();
    await waitFor('the wait is gone', () => (events.listenerCount(id) === before ? true : undefined));
    await api().delete(`/v1/sessions/${id}`).set(fx.auth).expect(202);
  });

  it('refuses an unknown state or a wait out of range, saying what is allowed', async () => {
    const created = await api().post('/v1/sessions').set(fx.auth).send(body('lp6')).expect(201);
    const id = created.body.id as string;
    const bad = await api().get(`/v1/sessions/${id}?waitWhile=sleeping`).set(fx.auth).expect(400);
    expect(bad.body.error.message).toMatch(/waitWhile must be one session state \(submitting, queued/);
    for (const w of ['0', '61', '1.5', 'x']) {
      const r = await api().get(`/v1/sessions/${id}?waitWhile=ready&waitSeconds=${w}`).set(fx.auth).expect(400);
      expect(r.body.error.message).toMatch(/waitSeconds must be a whole number of seconds from 1 to 60/);
    }
    await api().delete(`/v1/sessions/${id}`).set(fx.auth).expect(202);
  });
});
