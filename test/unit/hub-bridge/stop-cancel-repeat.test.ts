// A stopping session whose job is still listed (SIGTERM sent, the job winding down, Slurm's
// COMPLETING) gets its cancel again only now and then, not at every status poll — the
// pushed status changes of an ending job made the bridge send scancel 3-4 times in ~1 s —
// and at once after a cancel that failed. With a scripted cluster (a test double of the
// hpc-wrap client that counts killjob calls) and a fake Date.
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadHubBridgeConfig } from '../../../config/load.js';
import { SessionService } from '../../../hub-bridge/sessions/session-service.js';
import { StatusPoller } from '../../../hub-bridge/sessions/status-poller.js';
import { SessionStore } from '../../../hub-bridge/store/session-store.js';
import { ScriptedCluster } from '../../support/scripted-cluster.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A session whose job runs, then stopped; `failingCancels`: how many killjob calls fail first. */
async function stoppingSession(failingCancels = 0) {
  vi.useFakeTimers({ toFake: ['Date'] });
  const store = new SessionStore(':memory:');
  const cluster = new ScriptedCluster();
  const service = new SessionService(store, cluster.asClient(), loadHubBridgeConfig(null, {}), pino({ level: 'silent' }));
  let t = 0;
  const poller = new StatusPoller(store, service, cluster.asClient(), { intervalMs: 15_000, startingIntervalMs: 1000, queuedIntervalMs: 10_000 }, pino({ level: 'silent' }), () => t);
  const [created] = await service.create({ user: 'alice', env: { JUPYTERHUB_SERVICE_PREFIX: '/user/alice/' } }, null);
  await service.close(); // the submit ran
  const jobId = store.get(created.id)!.jobId!;
  cluster.status(jobId, { state: 'running', node: 'cn001' });
  const poll = async (seconds: number) => {
    vi.setSystemTime(Date.now() + seconds * 1000);
    t += seconds * 1000;
    await poller.tick();
    await service.close(); // the cancel a poll started has run
  };
  await poll(1);
  cluster.killFailures = failingCancels;
  service.stop(created.id);
  await service.close();
  return { store, cluster, id: created.id, jobId, poll };
}

describe('the cancel of a stopping session', () => {
  it('is not repeated at every poll while the job winds down; again after 10 s; the session ends when the job does', async () => {
    const { store, cluster, id, jobId, poll } = await stoppingSession();
    expect(cluster.killJobCalls).toBe(1);
    for (let i = 0; i < 5; i++) await poll(1); // still listed: running, then completing
    expect(cluster.killJobCalls).toBe(1);
    expect(store.get(id)!.state).toBe('stopping');
    await poll(6); // 11 s after the cancel and the job still listed: once more
    expect(cluster.killJobCalls).toBe(2);
    await poll(1);
    expect(cluster.killJobCalls).toBe(2);
    cluster.status(jobId, { state: 'cancelled' });
    await poll(1);
    expect(store.get(id)!.state).toBe('stopped');
  });

  it('is repeated at the next poll after a cancel that failed', async () => {
    const { cluster, poll } = await stoppingSession(1);
    expect(cluster.killJobCalls).toBe(1);
    await poll(1);
    expect(cluster.killJobCalls).toBe(2); // the failed one is retried at once
    await poll(1);
    expect(cluster.killJobCalls).toBe(2); // that one went through: not again at every poll
  });
});
