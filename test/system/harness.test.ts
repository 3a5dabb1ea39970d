// System test of the harness itself: real munge + Slurm, real JupyterHub 3.
// Run as root: npx vitest run --project system test/system/harness.test.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ensureUser,
  processesInDir,
  simpleSpawnerConfig,
  startGridEngine,
  startHub,
  startSlurm,
  waitFor,
  type GridEngineCluster,
  type Hub,
  type SlurmCluster,
  type SlurmJob,
} from './harness/index.js';

const dirs: string[] = [];
const tmp = (prefix: string) => {
  const d = mkdtempSync(`/tmp/${prefix}`);
  dirs.push(d);
  return d;
};

afterAll(() => {
  for (const d of dirs) {
    // every daemon must be gone, only then is the directory removed
    expect(processesInDir(d)).toEqual([]);
    rmSync(d, { recursive: true, force: true });
  }
});

async function jobState(c: SlurmCluster, id: string): Promise<SlurmJob | undefined> {
  return (await c.squeue()).find((j) => j.id === id);
}

describe('harness: slurm', () => {
  it('runs a job as an unprivileged user and survives a controller restart', async () => {
    const user = await ensureUser('hpctest1');
    expect(user.uid).toBeGreaterThan(0);
    const cluster = await startSlurm({ dir: tmp('harness-slurm-'), users: ['hpctest1'] });
    try {
      const sub = await cluster.run(['sbatch', '--parsable', '--wrap', 'sleep 30'], { user: 'hpctest1' });
      expect(sub.code, sub.stderr).toBe(0);
      const id = sub.stdout.trim().split(';')[0]!;
      expect(id).toMatch(/^\d+$/);

      const running = await waitFor(async () => {
        const j = await jobState(cluster, id);
        return j?.state === 'RUNNING' ? j : undefined;
      }, { timeoutMs: 30_000, intervalMs: 500 });
      expect(running).toMatchObject({ id, user: 'hpctest1', name: 'wrap' });

      await cluster.stopController();
      expect(cluster.controllerRunning()).toBe(false);
      const down = await cluster.run(['squeue', '-h']);
      expect(down.code).not.toBe(0);
      expect(down.ms).toBeLessThan(10_000);

      await cluster.startController();
      expect(await jobState(cluster, id)).toMatchObject({ id, state: 'RUNNING', user: 'hpctest1' });

      const cancel = await cluster.run(['scancel', id]);
      expect(cancel.code, cancel.stderr).toBe(0);
      await waitFor(async () => (await jobState(cluster, id)) === undefined, { timeoutMs: 30_000, intervalMs: 500 });
    } finally {
      await cluster.stop();
    }
    expect(processesInDir(cluster.dir)).toEqual([]);
  });
});

describe('harness: grid engine', () => {
  it('runs a job as an unprivileged user, multi-core through the PE, and survives a qmaster restart', async () => {
    const cluster: GridEngineCluster = await startGridEngine({ dir: tmp('harness-ge-'), users: ['hpctest1'] });
    const jobOf = async (id: string) => (await cluster.jobs()).find((j) => j.id === id);
    try {
      const sub = await cluster.run(['qsub', '-terse', '-b', 'y', '-N', 'sleeper', '-pe', cluster.pe, '2', 'sleep', '30'], { user: 'hpctest1' });
      expect(sub.code, sub.stderr).toBe(0);
      const id = sub.stdout.trim();
      expect(id).toMatch(/^\d+$/);
      const running = await waitFor(async () => {
        const j = await jobOf(id);
        return j?.state === 'r' ? j : undefined;
      }, { timeoutMs: 30_000, intervalMs: 500 });
      expect(running).toMatchObject({ id, user: 'hpctest1', name: 'sleeper' });

      await cluster.stopQmaster();
      expect(cluster.qmasterRunning()).toBe(false);
      const down = await cluster.run(['qstat', '-u', '*']);
      expect(down.code).not.toBe(0);
      expect(down.stderr).toMatch(/unable to contact qmaster|unable to send message to qmaster|commlib error/);
      expect(down.ms).toBeLessThan(10_000);

      await cluster.startQmaster();
      expect(await jobOf(id)).toMatchObject({ id, state: 'r', user: 'hpctest1' });

      const del = await cluster.run(['qdel', id], { user: 'hpctest1' });
      expect(del.code, del.stderr).toBe(0);
      // Usually gone in 1-3 s. The kill reaches the job through the execd, which the new
      // qmaster has only just heard from again; on a loaded CI machine it once took > 30 s
      // (the job listed as `dr` meanwhile), so allow 90 s and say what was seen.
      let seen = '';
      await waitFor(
        async () => {
          const j = await jobOf(id);
          seen = j?.state ?? 'gone';
          return j === undefined;
        },
        {
          timeoutMs: 90_000,
          intervalMs: 500,
          onTimeout: () => {
            const logs = cluster.logs();
            return `job ${id} still listed (state ${seen}) 90 s after qdel\n--- qmaster\n${logs.qmaster.slice(-2000)}\n--- execd\n${logs.execd.slice(-2000)}`;
          },
        },
      );
    } finally {
      await cluster.stop();
    }
    expect(processesInDir(cluster.dir)).toEqual([]);
  });
});

describe('harness: jupyterhub', () => {
  it('starts a server with the simple spawner, reaches it through the proxy, stops it', async () => {
    const dir = tmp('harness-hub-');
    let hub: Hub | undefined;
    try {
      hub = await startHub({ dir, spawnerClassConfig: simpleSpawnerConfig(dir), pythonPath: [], pollInterval: 5 });
      expect((await hub.api('GET', '/')).json).toMatchObject({ version: expect.any(String) });

      const started = await hub.startServer('alice');
      expect(started.ready).toBe(true);
      const events = await hub.progress('alice', { timeoutMs: 30_000 });
      expect(events.at(-1)).toMatchObject({ ready: true, progress: 100 });

      const api = await hub.userProxyGet('alice', 'api');
      expect(api.status).toBe(200);
      // api/status needs authentication: proves the service token is accepted
      const status = await hub.userProxyGet('alice', 'api/status');
      expect(status.status, status.text).toBe(200);
      const anon = await fetch(`${hub.url}/user/alice/api/status`, { redirect: 'manual' });
      expect(anon.status).not.toBe(200);
      await anon.body?.cancel();

      const stopped = await hub.stopServer('alice');
      expect([202, 204]).toContain(stopped.status);
      expect((await hub.api('GET', '/users/alice')).json).toMatchObject({ server: null, pending: null });
      expect((await hub.userProxyGet('alice', 'api/status')).status).not.toBe(200);
    } finally {
      await hub?.stop();
    }
    expect(processesInDir(dir)).toEqual([]);
  });

  it('restarts in the same dir with the same ports and token; a kept server is still reachable', async () => {
    const dir = tmp('harness-hub-');
    const opts = { dir, spawnerClassConfig: simpleSpawnerConfig(dir), cleanupServers: false };
    let hub: Hub | undefined = await startHub(opts);
    try {
      expect((await hub.startServer('bob')).ready).toBe(true);
      const { url, token } = hub;
      await hub.stop({ keepServers: true });
      expect(processesInDir(dir).length).toBeGreaterThan(0); // bob's server lives on
      hub = await startHub(opts);
      expect([hub.url, hub.token]).toEqual([url, token]);
      expect((await hub.api('GET', '/users/bob')).json).toMatchObject({ server: '/user/bob/' });
      expect((await hub.userProxyGet('bob', 'api/status')).status).toBe(200);
      await hub.stopServer('bob');
    } finally {
      await hub?.stop();
    }
    expect(processesInDir(dir)).toEqual([]);
  });
});
