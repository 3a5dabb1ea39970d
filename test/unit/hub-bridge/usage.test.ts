// Usage accounting on the bridge: the report's arithmetic (pure), then a real bridge on the
// fork scheduler (no scheduler accounting: the report says so and uses what the bridge saw),
// `hpc-bridge usage` and `hpc-bridge prune` as an admin runs them (the built CLI).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageRow } from '../../../hub-bridge/accounting/accounting-store.js';
import { usageCsv, usageQuery, usageReport } from '../../../hub-bridge/accounting/usage.js';
import { prune } from '../../../hub-bridge/store/retention.js';
import { SessionStore } from '../../../hub-bridge/store/session-store.js';
import { REPO, startBridgeFixture, STAND_IN_SERVER, waitFor, type BridgeFixture } from '../../support/bridge-fixture.js';

const run = promisify(execFile);
const cli = (config: string, ...args: string[]) => run(process.execPath, [join(REPO, 'dist/hpc-bridge.mjs'), '--config', config, ...args]);

const row = (o: Partial<UsageRow>): UsageRow => ({
  jobId: '1', sessionId: 's-1', user: 'alice', profile: 'small', submittedAt: '2026-11-02T10:00:00.000Z', startedAt: null, endedAt: null,
  reqCpus: 1, reqGpus: 0, reqAccount: null, acctSource: null, acctNote: null, elapsedSeconds: null, cpuSeconds: null, allocGpus: null,
  account: null, schedSubmittedAt: null, schedStartedAt: null, ...o,
});

describe('usage report', () => {
  const q = usageQuery({ from: '2026-11-01', to: '2026-12-01', by: 'user' });
  const rows = [
    row({ jobId: '1', sessionId: 's-1', acctSource: 'scheduler', cpuSeconds: 7200, elapsedSeconds: 3600, allocGpus: 2, account: 'course-x',
      schedSubmittedAt: '2026-11-02T10:00:00Z', schedStartedAt: '2026-11-02T10:00:30Z' }),
    row({ jobId: '2', sessionId: 's-2', acctSource: 'scheduler', cpuSeconds: 3600, elapsedSeconds: 3600, allocGpus: 0, account: 'course-x',
      schedSubmittedAt: '2026-11-03T10:00:00Z', schedStartedAt: '2026-11-03T10:01:30Z', submittedAt: '2026-11-03T10:00:00.000Z' }),
    row({ jobId: '3', sessionId: 's-3', user: 'bob', profile: 'gpu', reqCpus: 4, reqGpus: 1, reqAccount: 'lab-y', acctSource: 'unavailable',
      acctNote: 'Slurm accounting storage is disabled', startedAt: '2026-11-02T12:00:10.000Z', endedAt: '2026-11-02T12:30:10.000Z', submittedAt: '2026-11-02T12:00:00.000Z' }),
  ];

  it('adds CPU-hours and GPU-hours per user, with the median queue wait, and says which figures are the bridge\'s', () => {
    const r = usageReport(q, rows);
    expect(r.rows).toEqual([
      { key: 'alice', sessions: 2, jobs: 2, cpuHours: 3, gpuHours: 2, medianQueueWaitSeconds: 60 },
      { key: 'bob', sessions: 1, jobs: 1, cpuHours: 2, gpuHours: 0.5, medianQueueWaitSeconds: 10 },
    ]);
    expect(r.total).toMatchObject({ sessions: 3, cpuHours: 5, gpuHours: 2.5, medianQueueWaitSeconds: 30 });
    expect(r.source).toMatchObject({ kind: "mixed", schedulerJobs: 2, bridgeJobs: 1, runningJobs: 0 });
    expect(r.source.note).toMatch(/Slurm accounting storage is disabled/);
  });

  it('groups by account (the scheduler\'s, else the profile\'s) and by day', () => {
    expect(usageReport({ ...q, by: 'account' }, rows).rows.map((l) => [l.key, l.cpuHours])).toEqual([['course-x', 3], ['lab-y', 2]]);
    expect(usageReport({ ...q, by: 'day' }, rows).rows.map((l) => [l.key, l.jobs])).toEqual([['2026-11-02', 2], ['2026-11-03', 1]]);
  });

  it('prints CSV with the group as the first column', () => {
    expect(usageCsv(usageReport({ ...q, by: 'profile' }, rows))).toBe(
      'profile,sessions,jobs,cpu_hours,gpu_hours,median_queue_wait_seconds\ngpu,1,1,2,0.5,10\nsmall,2,2,3,2,60\n',
    );
  });

  it('refuses bad ranges and groupings with what is allowed', () => {
    expect(() => usageQuery({ from: '2026-12-01', to: '2026-11-01' })).toThrow(/must be before/);
    expect(() => usageQuery({ from: 'last week' })).toThrow(/2026-11-01/);
    expect(() => usageQuery({ by: 'node' })).toThrow(/user, profile, account, day/);
  });
});

describe('usage on a bridge whose scheduler keeps no accounting (fork)', () => {
  let fx: BridgeFixture;
  beforeAll(async () => {
    fx = await startBridgeFixture({ accounting: { intervalSeconds: 1 } });
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('reports what the bridge saw, says why, and the CLI prints the same as GET /v1/usage', async () => {
    const api = () => request(fx.bridge.server);
    const created = await api()
      .post('/v1/sessions')
      .set(fx.auth)
      .send({ user: 'usage-alice', profile: 'big', env: { JUPYTERHUB_SERVICE_PREFIX: '/user/usage-alice/' }, command: [process.execPath, STAND_IN_SERVER] })
      .expect(201);
    await waitFor('ready', async () => ((await api().get(`/v1/sessions/${created.body.id}`).set(fx.auth)).body.state === 'ready' ? true : undefined));
    await new Promise((r) => setTimeout(r, 1500));
    await api().delete(`/v1/sessions/${created.body.id}`).set(fx.auth).expect(202);
    const from = new Date(Date.now() - 3600_000).toISOString();
    const to = new Date(Date.now() + 3600_000).toISOString();
    const report = await waitFor('the accounting poller to ask', async () => {
      const r = await api().get('/v1/usage').query({ from, to, by: 'profile' }).set(fx.auth).expect(200);
      return r.body.source.note?.includes('keeps no accounting') ? r.body : undefined;
    });
    expect(report.source).toMatchObject({ kind: 'bridge', schedulerJobs: 0, bridgeJobs: 1 });
    const big = report.rows.find((l: { key: string }) => l.key === 'big');
    // 4 CPUs (the profile) × at least the 1.5 s it ran
    expect(big.cpuHours * 3600).toBeGreaterThanOrEqual(4 * 1.5);
    expect(big.cpuHours * 3600).toBeLessThan(4 * 60);
    expect(big.sessions).toBe(1);

    const json = JSON.parse((await cli(fx.bridgeConfig, 'usage', '--from', from, '--to', to, '--by', 'profile', '--json')).stdout);
    expect(json).toEqual(report);
    const table = (await cli(fx.bridgeConfig, 'usage', '--from', from, '--to', to, '--by', 'profile')).stdout;
    expect(table).toMatch(/^profile\s+sessions\s+jobs\s+CPU-hours/m);
    expect(table).toMatch(/the fork scheduler keeps no accounting/);
    const csv = await cli(fx.bridgeConfig, 'usage', '--from', from, '--to', to, '--by', 'user', '--csv');
    expect(csv.stdout.split('\n')[0]).toBe('user,sessions,jobs,cpu_hours,gpu_hours,median_queue_wait_seconds');
    expect(csv.stdout).toMatch(/^usage-alice,1,1,/m);
    expect(csv.stderr).toMatch(/^note: /);
  }, 120_000); // three CLI runs: each a fresh Node process loading the bundle

  it('answers 400 with the reason for a bad query', async () => {
    const r = await request(fx.bridge.server).get('/v1/usage').query({ by: 'node' }).set(fx.auth).expect(400);
    expect(r.body.error.message).toMatch(/by must be one of/);
    await request(fx.bridge.server).get('/v1/usage').expect(401);
  });

  it('prune keeps recent sessions (dry run and real), as the CLI', async () => {
    const dry = await cli(fx.bridgeConfig, 'prune', '--older-than', '1d', '--dry-run');
    expect(dry.stdout).toMatch(/would remove .*: 0 session\(s\)/);
    const bad = await cli(fx.bridgeConfig, 'prune', '--older-than', 'soon').catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringMatching(/number and a unit/) });
  }, 60_000);
});

describe('prune', () => {
  it('removes sessions that ended before the cutoff with their events, jobs and keys; never a live one', () => {
    const store = new SessionStore(':memory:');
    const db = store.database;
    const mk = (id: string, state: string, updatedDaysAgo: number, jobEndedDaysAgo: number | null) => {
      store.create({ id, user: 'u', serverName: id, profile: 'p', servicePrefix: '/', submitDoc: '{}' }, { key: `k-${id}`, fingerprint: 'f' });
      store.addEvent(id, 'requested', 'x', 0);
      const at = (d: number) => new Date(Date.now() - d * 86400_000).toISOString();
      db.prepare('UPDATE sessions SET state = ?, updated_at = ? WHERE id = ?').run(state, at(updatedDaysAgo), id);
      db.prepare('INSERT INTO jobs (job_id, session_id, user, profile, submitted_at, ended_at) VALUES (?,?,?,?,?,?)').run(`j-${id}`, id, 'u', 'p', at(updatedDaysAgo + 1), jobEndedDaysAgo === null ? null : at(jobEndedDaysAgo));
    };
    mk('s-old', 'stopped', 100, 100);
    mk('s-oldfail', 'failed', 95, null);
    mk('s-recent', 'stopped', 3, 3);
    mk('s-live', 'ready', 200, null); // a long-lived live session is never touched
    const dry = prune(db, 90 * 86400, { dryRun: true });
    expect(dry.removed).toEqual({ sessions: 2, events: 2, jobs: 2, idempotencyKeys: 2 });
    expect(store.list().length).toBe(4);
    const r = prune(db, 90 * 86400);
    expect(r.removed.sessions).toBe(2);
    expect(store.list().map((s) => s.id).sort()).toEqual(['s-live', 's-recent']);
    expect(store.jobs().map((j) => j.jobId).sort()).toEqual(['j-s-live', 'j-s-recent']);
    expect(store.events('s-old')).toEqual([]);
    expect(store.findIdempotent('k-s-old')).toBeUndefined();
    store.close();
  });
});
