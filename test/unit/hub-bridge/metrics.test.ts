// GET /metrics on a real bridge (SQLite, local transport, hpc-wrap bundle, fork scheduler):
// the counters an admin graphs move as sessions start, fail and stop; the endpoint has its
// own token; labels never carry a user, session or job id.
import { readFileSync, statSync } from 'node:fs';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHubBridgeConfig } from '../../../config/load.js';
import { startBridgeFixture, STAND_IN_SERVER, waitFor, type BridgeFixture } from '../../support/bridge-fixture.js';
import { parseSamples, sample, sum } from '../../support/prometheus-text.js';

let fx: BridgeFixture;
let metricsToken: string;
const api = () => request(fx.bridge.server);
const body = (user: string, command: string[] = [process.execPath, STAND_IN_SERVER], profile = 'small') => ({
  user,
  profile,
  env: { JUPYTERHUB_API_TOKEN: 'hub-secret-token-0123456789', JUPYTERHUB_SERVICE_PREFIX: `/user/${user}/`, JUPYTERHUB_USER: user },
  command,
});

async function scrape(): Promise<string> {
  const res = await api().get('/metrics').set('Authorization', `Bearer ${metricsToken}`).expect(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text;
}

async function sessionIn(id: string, state: string) {
  return waitFor(`session ${id} ${state}`, async () => {
    const r = await api().get(`/v1/sessions/${id}`).set(fx.auth);
    if (r.body.state === state) return r.body;
    if (['failed', 'stopped'].includes(r.body.state)) throw new Error(`ended as ${r.body.state}: ${r.body.message}`);
    return undefined;
  });
}

beforeAll(async () => {
  fx = await startBridgeFixture();
  const file = loadHubBridgeConfig(fx.bridgeConfig).metrics.tokenFile;
  expect(statSync(file).mode & 0o777).toBe(0o600);
  metricsToken = readFileSync(file, 'utf8').trim();
});
afterAll(async () => {
  await fx?.close();
});

describe('GET /metrics', () => {
  it('needs the metrics token: none and the API token are refused', async () => {
    const none = await api().get('/metrics').expect(401);
    expect(none.body.error.message).toMatch(/metrics\.tokenFile/);
    await api().get('/metrics').set(fx.auth).expect(401);
    expect(metricsToken).not.toBe(fx.bridge.token);
    // and the metrics token opens nothing under /v1
    await api().get('/v1/sessions').set('Authorization', `Bearer ${metricsToken}`).expect(401);
  });

  it('starts with every bounded series at zero, the scheduler reachable, and process metrics', async () => {
    const t = await scrape();
    expect(sample(t, 'hpc_bridge_sessions_started_total', { profile: 'small' })).toBe(0);
    expect(sample(t, 'hpc_bridge_sessions', { state: 'queued', profile: 'big' })).toBe(0);
    expect(sample(t, 'hpc_bridge_spawn_failures_total', { cause: 'tunnel' })).toBe(0);
    expect(sample(t, 'hpc_bridge_scheduler_reachable')).toBe(1);
    expect(sample(t, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(sample(t, 'hpc_bridge_build_info')).toBe(1);
  });

  it('counts a session that becomes ready, then stops; times it and its queue wait', async () => {
    const created = await api().post('/v1/sessions').set(fx.auth).send(body('metrics-alice')).expect(201);
    await sessionIn(created.body.id, 'ready');
    let t = await scrape();
    expect(sample(t, 'hpc_bridge_sessions_started_total', { profile: 'small' })).toBe(1);
    expect(sample(t, 'hpc_bridge_sessions_ready_total', { profile: 'small' })).toBe(1);
    expect(sample(t, 'hpc_bridge_sessions', { state: 'ready', profile: 'small' })).toBe(1);
    expect(sample(t, 'hpc_bridge_spawn_duration_seconds_count', { profile: 'small' })).toBe(1);
    expect(sample(t, 'hpc_bridge_spawn_duration_seconds_sum', { profile: 'small' })).toBeGreaterThan(0);
    expect(sample(t, 'hpc_bridge_queue_wait_seconds_count', { profile: 'small' })).toBe(1);
    expect(sum(t, 'hpc_bridge_status_poll_duration_seconds_count')).toBeGreaterThan(0);
    expect(sum(t, 'hpc_bridge_status_poll_jobs_sum')).toBeGreaterThan(0);

    await api().delete(`/v1/sessions/${created.body.id}`).set(fx.auth).expect(202);
    await sessionIn(created.body.id, 'stopped');
    t = await scrape();
    expect(sample(t, 'hpc_bridge_sessions_ended_total', { profile: 'small', outcome: 'stopped' })).toBe(1);
    expect(sample(t, 'hpc_bridge_sessions', { state: 'ready', profile: 'small' })).toBe(0);
  }, 90_000);

  it('counts a server that dies at start as a spawn failure "died_at_start"', async () => {
    const created = await api()
      .post('/v1/sessions')
      .set(fx.auth)
      .send(body('metrics-bob', [process.execPath, STAND_IN_SERVER, '--exit-code', '3'], 'big'))
      .expect(201);
    await sessionIn(created.body.id, 'failed');
    const t = await scrape();
    expect(sample(t, 'hpc_bridge_spawn_failures_total', { cause: 'died_at_start' })).toBe(1);
    expect(sample(t, 'hpc_bridge_sessions_ended_total', { profile: 'big', outcome: 'failed' })).toBe(1);
    expect(sample(t, 'hpc_bridge_sessions_ready_total', { profile: 'big' })).toBe(0);
  }, 90_000);

  it('counts a session stopped before it was ready as abandoned', async () => {
    const created = await api()
      .post('/v1/sessions')
      .set(fx.auth)
      .send(body('metrics-carol', [process.execPath, STAND_IN_SERVER, '--delay-ms', '60000']))
      .expect(201);
    await sessionIn(created.body.id, 'starting');
    await api().delete(`/v1/sessions/${created.body.id}`).set(fx.auth).expect(202);
    await sessionIn(created.body.id, 'stopped');
    const t = await scrape();
    expect(sample(t, 'hpc_bridge_sessions_ended_total', { profile: 'small', outcome: 'abandoned' })).toBe(1);
  }, 90_000);

  it('times API requests by route template, and no label holds a user, session or job id', async () => {
    const t = await scrape();
    expect(sum(t, 'hpc_bridge_http_request_duration_seconds_count', { method: 'POST', route: '/v1/sessions', code: '201' })).toBe(3);
    expect(sum(t, 'hpc_bridge_http_request_duration_seconds_count', { method: 'GET', route: '/v1/sessions/:id', code: '200' })).toBeGreaterThan(0);
    expect(sum(t, 'hpc_bridge_http_request_duration_seconds_count', { method: 'GET', route: '/metrics', code: '401' })).toBeGreaterThan(0);
    const labelValues = parseSamples(t).flatMap((s) => Object.values(s.labels));
    expect(labelValues.filter((v) => /metrics-|s-[a-z2-7]{26}|fork-\d/.test(v))).toEqual([]);
    expect(labelValues.filter((v) => v.startsWith('/v1/sessions/s-'))).toEqual([]);
  });
});

describe('metrics.listen: a separate listener', () => {
  let other: BridgeFixture;
  beforeAll(async () => {
    other = await startBridgeFixture({ metrics: { listen: { host: '127.0.0.1', port: 0 } } });
  });
  afterAll(async () => {
    await other?.close();
  });

  it('serves /metrics only there; the API listener says where', async () => {
    const url = other.bridge.watch.metricsUrl!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const here = await request(other.bridge.server).get('/metrics').expect(404);
    expect(here.body.error.message).toContain(`${url}/metrics`);
    const token = readFileSync(loadHubBridgeConfig(other.bridgeConfig).metrics.tokenFile, 'utf8').trim();
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    const res = await fetch(`${url}/metrics`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('hpc_bridge_sessions_started_total');
    expect((await fetch(`${url}/v1/sessions`, { headers: { Authorization: `Bearer ${other.bridge.token}` } })).status).toBe(404);
  });
});
