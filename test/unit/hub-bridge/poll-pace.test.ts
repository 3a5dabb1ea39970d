// Waiting in the queue is cheap (issue 10 point 5): queued sessions are asked about ever less
// often up to status.queuedIntervalSeconds, all together in one call; from the moment a job
// runs, at the starting pace. Counted on a fake clock, against scripted scheduler answers
// (test/support/scripted-cluster.ts): this is about how often the bridge asks, not what.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadHubBridgeConfig } from '../../../config/load.js';
import { SessionService } from '../../../hub-bridge/sessions/session-service.js';
import { StatusPoller } from '../../../hub-bridge/sessions/status-poller.js';
import { SessionStore } from '../../../hub-bridge/store/session-store.js';
import { ScriptedCluster } from '../../support/scripted-cluster.js';

const log = pino({ level: 'silent' });
const stores: SessionStore[] = [];
afterEach(() => stores.splice(0).forEach((s) => s.close()));

async function bridgeWith(n: number, timing = { intervalMs: 15_000, startingIntervalMs: 1000, queuedIntervalMs: 10_000 }) {
  const store = new SessionStore(':memory:');
  stores.push(store);
  const cluster = new ScriptedCluster();
  const service = new SessionService(store, cluster.asClient(), loadHubBridgeConfig(null, {}), log);
  const clock = { t: 0 };
  const poller = new StatusPoller(store, service, cluster.asClient(), timing, log, () => clock.t);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await service.create({ user: `u${i}`, env: {} }, null))[0].id);
  await service.close();
  const jobOf = (id: string) => store.get(id)!.jobId!;
  /** Runs the poller as its timer would for `ms` of fake time; returns the calls made. */
  const run = async (ms: number) => {
    const end = clock.t + ms;
    const before = cluster.jobStateCalls;
    const firstAsked = cluster.asked.length;
    while (true) {
      await poller.tick();
      const next = clock.t + poller.nextDelay();
      if (next > end) break;
      clock.t = next;
    }
    clock.t = end;
    return { calls: cluster.jobStateCalls - before, asked: cluster.asked.slice(firstAsked) };
  };
  return { store, cluster, poller, ids, jobOf, run, clock };
}

describe('status pace', () => {
  it('100 queued sessions: quick at first, then one call every 10 s for all of them', async () => {
    const b = await bridgeWith(100);
    const first = await b.run(60_000);
    // 0, 1, 3, 7 s (backing off), then the 10 s grid: 20, 30, 40, 50 (+ the grid point near 15)
    expect(first.calls).toBeLessThanOrEqual(10);
    const later = await b.run(5 * 60_000);
    expect(later.calls).toBe(30); // 6 per minute
    for (const a of later.asked) expect(a).toHaveLength(100); // all in one call
  });

  it('the old pace (queued = starting pace) for comparison: 60 calls per minute', async () => {
    const b = await bridgeWith(100, { intervalMs: 15_000, startingIntervalMs: 1000, queuedIntervalMs: 1000 });
    await b.run(60_000);
    expect((await b.run(60_000)).calls).toBe(60);
  });

  it('a job that starts is asked about at the starting pace from then on, without the queued ones', async () => {
    const b = await bridgeWith(20);
    await b.run(120_000);
    const runner = b.jobOf(b.ids[0]!);
    b.cluster.status(runner, { state: 'running', node: 'cn1' });
    const seen = await b.run(10_000); // within one queued interval it is seen running
    expect(b.store.get(b.ids[0]!)!.state).toBe('starting');
    const fast = await b.run(30_000);
    const withRunner = fast.asked.filter((a) => a.includes(runner));
    expect(withRunner.length).toBeGreaterThanOrEqual(28); // ~every second
    // the calls made only for it do not name the queued jobs (no queue positions read)
    expect(fast.asked.filter((a) => a.length === 1 && a[0] === runner).length).toBeGreaterThanOrEqual(24);
    expect(fast.calls).toBeLessThanOrEqual(31); // never two calls within the starting pace
    expect(seen.calls).toBeGreaterThanOrEqual(1);
  });

  it('settled (ready) sessions are asked every intervalSeconds, together', async () => {
    const b = await bridgeWith(50);
    for (const id of b.ids) b.store.update(id, { state: 'ready', jobState: 'running', host: 'cn1', port: 1 });
    for (const id of b.ids) b.cluster.status(b.jobOf(id), { state: 'running', node: 'cn1' });
    await b.run(60_000);
    const r = await b.run(60_000);
    expect(r.calls).toBe(4);
    for (const a of r.asked) expect(a).toHaveLength(50);
  });

  it('a poll that changes nothing writes nothing', async () => {
    const b = await bridgeWith(100);
    await b.run(30_000);
    const before = b.store.writes;
    const r = await b.run(60_000);
    expect(r.calls).toBeGreaterThan(0);
    expect(b.store.writes - before).toBe(0);
    // and a change is written (the queue position moved)
    b.cluster.status(b.jobOf(b.ids[0]!), { state: 'pending', position: 1, reason: 'Priority' });
    await b.run(20_000);
    expect(b.store.writes - before).toBe(1);
  });
});
