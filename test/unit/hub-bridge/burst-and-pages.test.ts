// Bursts and many sessions (issue 10 point 6), through the real /v1 API over HTTP: 100
// creates at once are all accepted at once and wait inside the bridge as `submitting`
// (never more than cluster.submitConcurrency startjobs at once); the lists page with a
// cursor and say when there is more. Submits go to a scripted cluster
// (test/support/scripted-cluster.ts) that holds every startjob until the test opens its gate, and counts them.
import type { Server } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHubBridgeConfig } from '../../../config/load.js';
import { createApp } from '../../../hub-bridge/api/app.js';
import { SessionService } from '../../../hub-bridge/sessions/session-service.js';
import { SessionStore } from '../../../hub-bridge/store/session-store.js';
import { ScriptedCluster } from '../../support/scripted-cluster.js';

const log = pino({ level: 'silent' });
const token = 'test-token-0123456789abcdef';
let store: SessionStore;
let service: SessionService;
let cluster: ScriptedCluster;
let server: Server;
let base: string;

beforeAll(async () => {
  store = new SessionStore(':memory:');
  cluster = new ScriptedCluster();
  service = new SessionService(store, cluster.asClient(), loadHubBridgeConfig(null, { cluster: { submitConcurrency: 4 } }), log);
  const app = createApp({ service, store, token, maxBodyBytes: 256 * 1024, log });
  server = await new Promise<Server>((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  const a = server.address();
  base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});
afterAll(async () => {
  await service.close();
  await new Promise((r) => server.close(r));
  store.close();
});

const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
const get = async (path: string) => {
  const res = await fetch(base + path, { headers });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> & { next: string | null } };
};

describe('a burst of 100 creates', () => {
  it('is accepted at once, waits as `submitting`, and never runs more than submitConcurrency startjobs at once', async () => {
    let open!: () => void;
    cluster.gate = new Promise<void>((r) => (open = r)); // startjobs hang until the burst is answered
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        fetch(`${base}/v1/sessions`, { method: 'POST', headers, body: JSON.stringify({ user: `burst${i}`, env: {} }) }).then(async (r) => ({ status: r.status, body: (await r.json()) as { state: string } })),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(100).fill(201));
    expect(results.every((r) => r.body.state === 'submitting')).toBe(true);
    // every create answered while no submit could finish: four startjobs run, 96 wait inside the bridge
    expect(cluster.startJobCalls).toBe(4);
    expect(service.submits.queued).toBe(96);
    const waiting = await get('/v1/sessions?state=submitting&limit=1000');
    expect((waiting.json.sessions as unknown[]).length).toBe(100);
    open();
    cluster.gate = null;
    for (let i = 0; i < 500 && store.list({ state: 'queued' }).length < 100; i++) await new Promise((r) => setTimeout(r, 10));
    expect(cluster.startJobCalls).toBe(100);
    expect(cluster.maxSubmitting).toBe(4);
    expect(service.submits.peak).toBe(4);
    const queued = await get('/v1/sessions?state=queued&limit=1000');
    expect((queued.json.sessions as unknown[]).length).toBe(100);
  });
});

describe('lists page and never truncate silently', () => {
  it('pages sessions newest first with a cursor; each session once; the last page says there is no more', async () => {
    const seen: string[] = [];
    let cursor: string | null = '';
    let pages = 0;
    while (cursor !== null) {
      const r = await get(`/v1/sessions?limit=30${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      const list = r.json.sessions as Array<{ id: string; createdAt: string }>;
      expect(list.length).toBeLessThanOrEqual(30);
      seen.push(...list.map((s) => s.id));
      cursor = r.json.next;
      pages++;
    }
    expect(pages).toBe(4);
    expect(seen).toHaveLength(100);
    expect(new Set(seen).size).toBe(100);
    const all = (await get('/v1/sessions?limit=1000')).json;
    expect(all.next).toBeNull();
    expect((all.sessions as Array<{ id: string }>).map((s) => s.id)).toEqual(seen);
  });

  it('the default page is 100 and says when there are more', async () => {
    await fetch(`${base}/v1/sessions`, { method: 'POST', headers, body: JSON.stringify({ user: 'burst0', serverName: 'second', env: {} }) });
    const r = await get('/v1/sessions');
    expect((r.json.sessions as unknown[]).length).toBe(100);
    expect(typeof r.json.next).toBe('string');
  });

  it('filters by user and by one or more states', async () => {
    const mine = await get('/v1/sessions?user=burst7');
    expect((mine.json.sessions as Array<{ user: string }>).map((s) => s.user)).toEqual(['burst7']);
    const two = await get('/v1/sessions?state=queued,submitting&limit=1000');
    expect((two.json.sessions as unknown[]).length).toBe(101);
    expect((await get('/v1/sessions?state=ready')).json.sessions).toEqual([]);
  });

  it('pages the job records the same way', async () => {
    const first = await get('/v1/jobs?limit=60');
    expect((first.json.jobs as unknown[]).length).toBe(60);
    const rest = await get(`/v1/jobs?limit=60&cursor=${first.json.next}`);
    expect((rest.json.jobs as unknown[]).length).toBeGreaterThanOrEqual(40);
    const ids = [...(first.json.jobs as Array<{ jobId: string }>), ...(rest.json.jobs as Array<{ jobId: string }>)].map((j) => j.jobId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('refuses a bad limit, a forged cursor and an unknown state with 400 and says what to send', async () => {
    expect((await get('/v1/sessions?limit=0')).json).toMatchObject({ error: { message: expect.stringMatching(/limit must be an integer from 1 to 1000/) } });
    expect((await get('/v1/sessions?limit=5000')).status).toBe(400);
    const forged = await get(`/v1/sessions?cursor=${Buffer.from('{"x":1}').toString('base64url')}`);
    expect(forged.status).toBe(400);
    expect(forged.json).toMatchObject({ error: { message: expect.stringMatching(/"next" value of the previous page/) } });
    expect((await get('/v1/jobs?cursor=%27%3B--')).status).toBe(400);
    expect((await get('/v1/sessions?state=running')).json).toMatchObject({ error: { message: expect.stringMatching(/one or more of submitting, queued/) } });
  });
});
