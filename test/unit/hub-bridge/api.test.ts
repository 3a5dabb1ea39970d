// The /v1 API against a real bridge (SQLite, local transport, hpc-wrap bundle, fork scheduler).
import { splitMessage } from '../../../hub-bridge/sessions/progress-messages.js';
import { existsSync, readdirSync } from 'node:fs';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridgeFixture, STAND_IN_SERVER, waitFor, type BridgeFixture } from '../../support/bridge-fixture.js';

let fx: BridgeFixture;
const api = () => request(fx.bridge.server);
const env = (user: string) => ({
  JUPYTERHUB_API_TOKEN: 'hub-secret-token-0123456789',
  JUPYTERHUB_SERVICE_PREFIX: `/user/${user}/`,
  JUPYTERHUB_USER: user,
});
const body = (user: string, extra: Record<string, unknown> = {}) => ({
  user,
  env: env(user),
  command: [process.execPath, STAND_IN_SERVER],
  ...extra,
});

beforeAll(async () => {
  fx = await startBridgeFixture();
});
afterAll(async () => {
  await fx?.close();
});

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true }).map(String);
}

describe('authentication', () => {
  it('answers /healthz without a token', async () => {
    const res = await api().get('/healthz').expect(200);
    expect(res.body.ok).toBe(true);
  });

  it('refuses a missing token with 401 and says how to authenticate', async () => {
    const res = await api().get('/v1/sessions').expect(401);
    expect(res.body.error.message).toMatch(/Authorization: Bearer/);
  });

  it('refuses a wrong token with 401', async () => {
    const res = await api().get('/v1/sessions').set('Authorization', 'Bearer not-the-token').expect(401);
    expect(res.body.error.code).toBe('unauthorized');
  });
});

describe('bad input gets a 4xx, a clear message, and changes nothing', () => {
  const badUsers = ['../x', 'a;rm -rf /', '$(id)', '', 'x'.repeat(10_000), '.hidden', 'a/b', 'a b'];
  for (const user of badUsers) {
    it(`refuses user ${JSON.stringify(user.slice(0, 20))}`, async () => {
      const before = fx.bridge.store.list().length;
      const res = await api().post('/v1/sessions').set(fx.auth).send(body(user)).expect(400);
      expect(res.body.error.message).toMatch(/user name/);
      expect(fx.bridge.store.list().length).toBe(before);
    });
  }

  it('refuses an unknown profile and lists the known ones', async () => {
    const res = await api().post('/v1/sessions').set(fx.auth).send(body('carol', { profile: 'huge' })).expect(400);
    expect(res.body.error.message).toMatch(/unknown profile "huge".*small, big/);
  });

  it('refuses malformed JSON', async () => {
    const res = await api().post('/v1/sessions').set(fx.auth).set('Content-Type', 'application/json').send('{"user": "dave",').expect(400);
    expect(res.body.error.message).toMatch(/not valid JSON/);
  });

  it('refuses an oversized body with 413', async () => {
    const res = await api().post('/v1/sessions').set(fx.auth).send(body('erin', { env: { BIG: 'x'.repeat(300 * 1024) } })).expect(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });

  it('refuses a bad env name and a non-argv command', async () => {
    await api().post('/v1/sessions').set(fx.auth).send(body('frank', { env: { 'A=B': 'x' } })).expect(400);
    await api().post('/v1/sessions').set(fx.auth).send(body('frank', { command: 'rm -rf /' })).expect(400);
  });

  // What hpc-wrap would refuse on the cluster is refused here, by the same schema (contract/startjob.ts).
  it('refuses an unknown field by name (it used to be ignored)', async () => {
    const res = await api().post('/v1/sessions').set(fx.auth).send(body('frank', { gpus: 4 })).expect(400);
    expect(res.body.error.message).toMatch(/unknown field\(s\) "gpus"; the fields are user, serverName, profile, env, command, script, webdav/);
  });

  it('refuses a reserved HPC_WRAP_* variable and more variables than the cluster takes', async () => {
    const reserved = await api().post('/v1/sessions').set(fx.auth).send(body('frank', { env: { ...env('frank'), HPC_WRAP_RUN_DIR: '/tmp/x' } })).expect(400);
    expect(reserved.body.error.message).toMatch(/HPC_WRAP_\* variables are reserved/);
    const many = Object.fromEntries(Array.from({ length: 513 }, (_, i) => [`V${i}`, 'x']));
    const tooMany = await api().post('/v1/sessions').set(fx.auth).send(body('frank', { env: many })).expect(400);
    expect(tooMany.body.error.message).toMatch(/at most 512 environment variables/);
  });

  it('refuses a name too long for the cluster\'s file names once escaped (not a late ENAMETOOLONG)', async () => {
    const res = await api().post('/v1/sessions').set(fx.auth).send(body('é'.repeat(128))).expect(400);
    expect(res.body.error.message).toMatch(/too long for the cluster's file names/);
    expect(res.body.error.message).not.toMatch(/ENAMETOOLONG|\/hpc\//);
    // a 48-character Cyrillic name fits (compact form) and is accepted
    const ok = await api().post('/v1/sessions').set(fx.auth).send(body('Ж'.repeat(48), { command: [process.execPath, '-e', 'process.exit(0)'] })).expect(201);
    await api().delete(`/v1/sessions/${ok.body.id}`).set(fx.auth).expect(202);
  });

  it('refuses WebDAV credentials while the cluster has WebDAV off, without echoing them', async () => {
    const res = await api().post('/v1/sessions').set(fx.auth).send(body('frank', { webdav: { username: 'frank', password: 'pw-canary-77' } })).expect(400);
    expect(res.body.error.message).toMatch(/mounts no WebDAV shares.*webdav\.enabled is false/);
    expect(JSON.stringify(res.body)).not.toContain('pw-canary-77');
  });

  it('keeps NFC and NFD spellings of a name as two users (no merging)', async () => {
    const nfc = 'été';
    const nfd = 'e\u0301te\u0301';
    const a = await api().post('/v1/sessions').set(fx.auth).send(body(nfc, { command: [process.execPath, '-e', 'setTimeout(()=>{},60000)'] })).expect(201);
    const b = await api().post('/v1/sessions').set(fx.auth).send(body(nfd, { command: [process.execPath, '-e', 'setTimeout(()=>{},60000)'] })).expect(201);
    expect(a.body.user).toBe(nfc);
    expect(b.body.user).toBe(nfd);
    await waitFor('both submitted', async () => {
      const both = await Promise.all([a, b].map(async (r) => (await api().get(`/v1/sessions/${r.body.id}`).set(fx.auth)).body.jobId));
      return both.every(Boolean) ? true : undefined;
    });
    const users = readdirSync(`${fx.workDir}/users`);
    expect(users).toContain('_c3_a9t_c3_a9');
    expect(users).toContain('e_cc_81te_cc_81');
    for (const r of [a, b]) await api().delete(`/v1/sessions/${r.body.id}`).set(fx.auth).expect(202);
  });

  it('created no file for any refused request', () => {
    const accepted = ['_c3_a9t_c3_a9', 'e_cc_81te_cc_81', '_z'];
    expect(filesUnder(fx.workDir).filter((f) => f.startsWith('users') && !accepted.some((a) => f.startsWith(`users/${a}`)))).toEqual(['users']);
  });

  it('answers 404 for an unknown or malformed session id', async () => {
    await api().get('/v1/sessions/s-aaaaaaaaaaaaaaaaaaaaaaaaaa').set(fx.auth).expect(404);
    await api().get('/v1/sessions/..%2F..%2Fetc').set(fx.auth).expect(404);
    await api().delete('/v1/sessions/nope').set(fx.auth).expect(404);
  });
});

describe('a session on the fork scheduler', () => {
  it('lists the profiles for the options form', async () => {
    const res = await api().get('/v1/profiles').set(fx.auth).expect(200);
    expect(res.body.profiles.map((p: { name: string }) => p.name)).toEqual(['small', 'big']);
  });

  it('goes submitted → running → ready, answers through its URL, then stops', async () => {
    const created = await api().post('/v1/sessions').set(fx.auth).send(body('alice@uni.example')).expect(201);
    const id = created.body.id as string;
    expect(created.body.state).toBe('submitting');

    const ready = await waitFor('ready', async () => {
      const r = await api().get(`/v1/sessions/${id}`).set(fx.auth);
      if (r.body.state === 'failed') throw new Error(r.body.message);
      return r.body.state === 'ready' ? r.body : undefined;
    });
    expect(ready.jobId).toMatch(/^fork-/);
    const res = await fetch(`${ready.url}/user/alice@uni.example/api`);
    expect(res.status).toBe(200);
    expect(await (await fetch(`${ready.url}/user/alice@uni.example/env-has-token`)).text()).toBe('yes');

    const events = await api().get(`/v1/sessions/${id}/events`).set(fx.auth).expect(200);
    const kinds = events.body.events.map((e: { kind: string }) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['requested', 'submitted', 'running', 'starting', 'ready']));

    await api().delete(`/v1/sessions/${id}`).set(fx.auth).expect(202);
    await waitFor('stopped', async () => ((await api().get(`/v1/sessions/${id}`).set(fx.auth)).body.state === 'stopped' ? true : undefined));
    await expect(fetch(`${ready.url}/user/alice@uni.example/api`)).rejects.toThrow();

    // usage accounting: one job row, with when it was submitted, started and ended
    const jobs = await api().get('/v1/jobs?user=alice@uni.example').set(fx.auth).expect(200);
    expect(jobs.body.jobs).toHaveLength(1);
    expect(jobs.body.jobs[0]).toMatchObject({ jobId: ready.jobId, sessionId: id, profile: 'small' });
    for (const k of ['submittedAt', 'startedAt', 'endedAt']) expect(Date.parse(jobs.body.jobs[0][k])).toBeGreaterThan(0);
  });

  it('streams progress as Server-Sent Events that end with a terminal event', async () => {
    const created = await api().post('/v1/sessions').set(fx.auth).send(body('bob')).expect(201);
    const id = created.body.id as string;
    const res = await fetch(`${fx.bridge.url}/v1/sessions/${id}/events`, { headers: { ...fx.auth, Accept: 'text/event-stream' } });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const text = await res.text(); // ends after "ready"
    const data = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
    expect(data.at(-1).kind).toBe('ready');
    expect(data.map((e) => e.message).join('\n')).toMatch(/Submitted batch job fork-/);
    await api().delete(`/v1/sessions/${id}`).set(fx.auth).expect(202);
  });

  it('fails fast with the output tail when the server exits during start-up', async () => {
    const created = await api()
      .post('/v1/sessions')
      .set(fx.auth)
      .send(body('carol', { command: [process.execPath, STAND_IN_SERVER, '--exit-code', '3'] }))
      .expect(201);
    const failed = await waitFor('failed', async () => {
      const r = await api().get(`/v1/sessions/${created.body.id}`).set(fx.auth);
      return r.body.state === 'failed' ? r.body : undefined;
    });
    // one plain sentence with what to do and a reference, then the details (the log tail) once
    const { sentence, details } = splitMessage(failed.message);
    expect(sentence).toMatch(/^Your server stopped while it was starting: .*try again.*\(reference: job \S+\)\.$/);
    expect(sentence).not.toMatch(/simulated/);
    expect(details).toMatch(/exit code 3/);
    expect(details.match(/simulated start-up failure/g)).toHaveLength(1);
  });

  it('honours Idempotency-Key: the same key returns the same session, another body conflicts', async () => {
    const a = await api().post('/v1/sessions').set(fx.auth).set('Idempotency-Key', 'k-123').send(body('dave')).expect(201);
    const b = await api().post('/v1/sessions').set(fx.auth).set('Idempotency-Key', 'k-123').send(body('dave')).expect(200);
    expect(b.body.id).toBe(a.body.id);
    await api().post('/v1/sessions').set(fx.auth).set('Idempotency-Key', 'k-123').send(body('erin')).expect(409);
    await api().delete(`/v1/sessions/${a.body.id}`).set(fx.auth).expect(202);
  });

  it('never writes the hub token into its log', () => {
    expect(fx.logs()).not.toContain('hub-secret-token-0123456789');
  });
});
