// A session has at most one job, ever, and leaves no secret behind (issue 8, findings 4-6),
// on real Slurm with the bridge as its own process: a scheduler outage during a burst of
// spawns, a slow sbatch that outlives hpc-wrap's timeout, startjob SIGKILLed before and
// after the scheduler accepted the job, the orphan reaper, cancels while pending, a SIGKILLed
// bridge — and at the end no byte of any canary secret in any file of the state or work dir.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureUser, freePort, pidsMatching, startSlurm, type SlurmCluster } from './harness/index.js';
import { REPO, startBridgeProcess, type BridgeProcess } from './bridge-process.js';

const SVC = 'hpcb-rob-svc';
const STAND_IN = join(REPO, 'test/fixtures/http-stand-in-server.mjs');
const SLOW_SBATCH = join(REPO, 'test/fixtures/bin/slow-sbatch');
const CANARY = (n: number) => `canary-${n}-7f3a9c0d2b`;
let canaries = 0;

let dir: string;
let slurm: SlurmCluster;
let bridge: BridgeProcess;
let bridgeConfig: string;
let bridgePort: number;
let workDir: string;
let control: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000, everyMs = 300): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

const session = async (id: string) => (await bridge.api('GET', `/v1/sessions/${id}`)).json;
const events = async (id: string) => ((await bridge.api('GET', `/v1/sessions/${id}/events`)).json.events as Array<{ kind: string; message: string }>).map((e) => e.message);
/** Live Slurm jobs carrying the session's marker. */
async function jobsOf(sessionId: string): Promise<string[]> {
  const r = await slurm.run(['squeue', '--noheader', '--states=PENDING,RUNNING,CONFIGURING,COMPLETING', '--format=%i|%k']);
  return r.stdout.split('\n').filter((l) => l.endsWith(`|hpc-bridge:${sessionId}`)).map((l) => l.split('|')[0]!);
}

function spawnBody(user: string, extra: Record<string, unknown> = {}) {
  return {
    user,
    env: { JUPYTERHUB_SERVICE_PREFIX: `/user/${user}/`, JUPYTERHUB_API_TOKEN: CANARY(++canaries) },
    command: ['/usr/bin/node', STAND_IN],
    ...extra,
  };
}

/** The slow sbatch's pauses (seconds) for the next submits; clears the "reached" marks. */
function pauses(p: { before?: number; after?: number }) {
  for (const k of ['before', 'after'] as const) {
    rmSync(`${control}.${k}`, { force: true });
    writeFileSync(`${control}.${k}_s`, p[k] ? String(p[k]) : '', { mode: 0o666 });
  }
}
const reached = (step: 'before' | 'after') => readdirSync(join(dir, 'ctl')).includes(`slow-sbatch.${step}`);

async function startBridge() {
  bridge = await startBridgeProcess({ config: bridgeConfig, port: bridgePort, tokenFile: join(dir, 'bridge/token') });
}

beforeAll(async () => {
  dir = mkdtempSync('/tmp/hpcb-rob-');
  chmodSync(dir, 0o755);
  const svc = await ensureUser(SVC);
  slurm = await startSlurm({ dir: join(dir, 'slurm'), messageTimeout: 3 });
  workDir = join(dir, 'hpc');
  mkdirSync(workDir, { mode: 0o755 });
  chownSync(workDir, svc.uid, svc.gid);
  control = join(dir, 'ctl', 'slow-sbatch');
  mkdirSync(join(dir, 'ctl'), { mode: 0o777 });
  chmodSync(join(dir, 'ctl'), 0o777);
  const hpcWrapConfig = join(dir, 'hpc-wrap.yaml');
  writeFileSync(
    hpcWrapConfig,
    stringify({
      workDir,
      scheduler: { kind: 'slurm', env: slurm.env, timeoutSeconds: 4, submit: [SLOW_SBATCH, control, 'sbatch', '--parsable'] },
      // WebDAV on, but optional: only the pending session sends credentials (it never runs)
      webdav: { enabled: true, url: 'https://dav.example.org/files/{user}/', required: false },
    }),
  );
  mkdirSync(join(dir, 'bridge'), { mode: 0o700 });
  bridgePort = await freePort();
  bridgeConfig = join(dir, 'hub-bridge.yaml');
  writeFileSync(
    bridgeConfig,
    stringify({
      listen: { host: '127.0.0.1', port: bridgePort },
      apiTokenFile: join(dir, 'bridge/token'),
      stateDb: join(dir, 'bridge/bridge.sqlite'),
      cluster: {
        transport: { kind: 'local', runAs: SVC },
        hpcWrap: ['/usr/bin/node', join(REPO, 'dist/hpc-wrap.mjs'), '--config', hpcWrapConfig],
        commandTimeoutSeconds: 60,
        submitDeadlineSeconds: 180,
        // These cases kill and time out the one-shot `hpc-wrap startjob` processes by name,
        // so every submit runs as one (the agent's own kill-mid-submit case is in
        // test/unit/hub-bridge/hpc-wrap-agent.test.ts). submitConcurrency stays at its default
        // (4): the 6 sessions of the burst still waiting for a slot must be told too.
        agent: false,
      },
      status: { intervalSeconds: 2, startingIntervalSeconds: 0.5 },
      reaper: { intervalSeconds: 5, graceSeconds: 3 },
      profiles: [{ name: 'small', displayName: 'Small', resources: { cpus: 1, memoryMB: 128, walltime: '00:20:00' } }],
    }),
  );
  await startBridge();
}, 300_000);

afterAll(async () => {
  await bridge?.kill('SIGTERM').catch(() => {});
  await slurm?.stop().catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

async function stopAll(ids: string[]) {
  for (const id of ids) await bridge.api('DELETE', `/v1/sessions/${id}`);
  for (const id of ids) await until(`${id} ended`, async () => (['stopped', 'failed'].includes((await session(id)).state) ? true : undefined), 60_000);
}

describe('one job per session, whatever fails', () => {
  it('slurmctld down for 30 s during a burst of 10 spawns: the students are told, all 10 become ready afterwards, one job each', async () => {
    await slurm.stopController();
    let ids: string[];
    try {
      const created = await Promise.all(Array.from({ length: 10 }, (_, i) => bridge.api('POST', '/v1/sessions', spawnBody(`burst${i}`))));
      ids = created.map((c) => c.json.id as string);
      await until('every student told', async () => {
        const all = await Promise.all(ids.map(events));
        // "not answering" when sbatch says so; "cannot be reached" when startjob itself timed out (a loaded machine)
        return all.every((m) => m.some((x) => /The (scheduler is not answering|cluster cannot be reached) at the moment; (retrying|your start waits its turn and is retried) until \d\d:\d\d UTC/.test(x))) ? true : undefined;
      }, 60_000).catch((err) => {
        throw new Error(`${(err as Error).message}\nbridge log: ${bridge.log().slice(-3000)}`);
      });
      await sleep(20_000);
      for (const id of ids) expect((await session(id)).state).toBe('submitting'); // kept, not failed
    } finally {
      await slurm.startController();
    }
    for (const id of ids) {
      await until(`${id} ready`, async () => {
        const s = await session(id);
        if (s.state === 'failed') throw new Error(s.message);
        return s.state === 'ready' ? s : undefined;
      }, 180_000);
    }
    for (const id of ids) expect(await jobsOf(id)).toHaveLength(1);
    await stopAll(ids);
  });

  it('a slow sbatch that outlives hpc-wrap\'s timeout: the job is adopted on the retry, not submitted twice', async () => {
    pauses({ after: 8 }); // sbatch accepts, then hangs past hpc-wrap's 4 s timeout
    const c = await bridge.api('POST', '/v1/sessions', spawnBody('slowsbatch'));
    await until('first attempt accepted by Slurm', async () => (reached('after') ? true : undefined), 60_000);
    pauses({});
    const ready = await until('ready', async () => {
      const s = await session(c.json.id);
      if (s.state === 'failed') throw new Error(s.message);
      return s.state === 'ready' ? s : undefined;
    });
    expect(await jobsOf(c.json.id)).toEqual([ready.jobId]);
    expect(bridge.log()).toContain('submit failed, retrying');
    await stopAll([c.json.id]);
  });

  for (const step of ['before', 'after'] as const) {
    it(`startjob SIGKILLed ${step} the scheduler accepted the job: the session ends with exactly one live job`, async () => {
      pauses(step === 'before' ? { before: 3 } : { after: 3 });
      const c = await bridge.api('POST', '/v1/sessions', spawnBody(`kill${step}`));
      await until(`sbatch wrapper reached ${step}`, async () => (reached(step) ? true : undefined), 60_000, 50);
      const startjobs = pidsMatching(`${join(dir, 'hpc-wrap.yaml')}\0startjob`);
      expect(startjobs.length).toBeGreaterThan(0);
      for (const pid of startjobs) process.kill(pid, 'SIGKILL');
      pauses({});
      const ready = await until('ready', async () => {
        const s = await session(c.json.id);
        if (s.state === 'failed') throw new Error(s.message);
        return s.state === 'ready' ? s : undefined;
      });
      // "before": the orphaned sbatch may still submit after the retry did: the reaper cancels that one.
      await until('one live job for the session', async () => {
        const jobs = await jobsOf(c.json.id);
        return jobs.length === 1 && jobs[0] === ready.jobId ? true : undefined;
      }, 60_000);
      await stopAll([c.json.id]);
    });
  }

  it('the orphan reaper cancels a marked job whose session ended, and says so on the session', async () => {
    // The job waits in the queue (the node is full), so only the reaper can end it.
    const blocker = await slurm.run(['sbatch', '--parsable', '--cpus-per-task=20', '--mem=256M', '--wrap', 'sleep 300', '--output=/dev/null']);
    await until('the blocker runs', async () => ((await slurm.squeue()).find((j) => j.id === blocker.stdout.trim())?.state === 'RUNNING' ? true : undefined), 60_000);
    try {
      pauses({ after: 8 }); // the scheduler accepts the job, then sbatch hangs past hpc-wrap's timeout
      const c = await bridge.api('POST', '/v1/sessions', spawnBody('orphan'));
      await until('job accepted', async () => ((await jobsOf(c.json.id)).length > 0 ? true : undefined), 60_000);
      pauses({});
      await bridge.api('DELETE', `/v1/sessions/${c.json.id}`); // stopped before the bridge learned the job id
      await until('stopped', async () => ((await session(c.json.id)).state === 'stopped' ? true : undefined), 60_000);
      await until('no live job of the ended session', async () => ((await jobsOf(c.json.id)).length === 0 ? true : undefined), 90_000).catch((err) => {
        throw new Error(`${(err as Error).message}\nbridge log: ${bridge.log().slice(-3000)}`);
      });
      // The job leaves squeue while the reaper's killjob still runs; the event follows it.
      const reaped = /Cancelled batch job \d+ left behind by an interrupted submit: its session ended \(stopped\)/;
      await until('the reaper says so on the session', async () => ((await events(c.json.id)).some((m) => reaped.test(m)) ? true : undefined), 30_000).catch(async (err) => {
        throw new Error(`${(err as Error).message}\nevents: ${(await events(c.json.id)).join('\n')}\nbridge log: ${bridge.log().slice(-4000)}`);
      });
    } finally {
      await slurm.run(['scancel', blocker.stdout.trim()]);
    }
  });

  it('a session cancelled while pending removes its spool: the hub token and the WebDAV password are gone from disk', async () => {
    // Fill the node so the job waits in the queue.
    const blocker = await slurm.run(['sbatch', '--parsable', '--cpus-per-task=20', '--mem=256M', '--wrap', 'sleep 300', '--output=/dev/null']);
    const password = CANARY(++canaries);
    const c = await bridge.api('POST', '/v1/sessions', spawnBody('pending', { webdav: { username: 'pending', password } }));
    expect(c.status, JSON.stringify(c.json)).toBe(201);
    await until('queued', async () => ((await session(c.json.id)).state === 'queued' ? true : undefined), 60_000);
    const runDir = join(workDir, 'users', 'pending', 'sessions', c.json.id);
    expect(readFileSync(join(runDir, 'spool/secrets.json'), 'utf8')).toContain(password); // only here, 0600
    expect(statSync(join(runDir, 'spool/secrets.json')).mode & 0o777).toBe(0o600);
    await stopAll([c.json.id]);
    await until('spool removed', async () => {
      try {
        statSync(join(runDir, 'spool'));
        return undefined;
      } catch {
        return true;
      }
    }, 30_000);
    await slurm.run(['scancel', blocker.stdout.trim()]);
  });

  it('a bridge SIGKILLed mid-spawn: restarted, it keeps no secret either', async () => {
    const c = await bridge.api('POST', '/v1/sessions', spawnBody('sigkill'));
    await bridge.kill('SIGKILL');
    await startBridge();
    const end = await until('settled', async () => {
      const s = await session(c.json.id);
      return ['ready', 'failed'].includes(s.state) ? s : undefined;
    });
    if (end.state === 'ready') await stopAll([c.json.id]);
  });

  it('after all of the above, no byte of any canary is in any file under the state dir or the work dir', async () => {
    await bridge.kill('SIGTERM');
    const hits: string[] = [];
    const scan = (d: string) => {
      for (const name of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, name.name);
        if (name.isDirectory()) scan(p);
        else if (name.isFile()) {
          const bytes = readFileSync(p);
          for (let n = 1; n <= canaries; n++) if (bytes.includes(CANARY(n))) hits.push(`${p}: ${CANARY(n)}`);
        }
      }
    };
    scan(join(dir, 'bridge'));
    scan(workDir);
    expect(hits).toEqual([]);
    // and the state dir and its database are private
    expect(statSync(join(dir, 'bridge')).mode & 0o077).toBe(0);
    for (const f of readdirSync(join(dir, 'bridge'))) expect(statSync(join(dir, 'bridge', f)).mode & 0o077, f).toBe(0);
    await startBridge();
  });
});
