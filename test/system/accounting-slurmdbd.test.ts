// Usage accounting against real Slurm accounting: the harness cluster with slurmdbd on a
// private MariaDB, the bridge running hpc-wrap as a service account (associated with the
// Slurm account "course-x"). After the sessions end, `hpc-bridge usage` reports exactly the
// CPU time sacct reports for those jobs, the jobs table holds sacct's state and exit code,
// and `hpc-wrap clean` removes the ended sessions' run dirs but not a live one's.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHubBridgeConfig } from '../../config/load.js';
import { startBridge, type Bridge } from '../../hub-bridge/bridge.js';
import { createLogger } from '../../hub-bridge/log.js';
import { ensureUser, startSlurm, type SlurmCluster, type UserInfo } from './harness/index.js';
import { REPO } from './bridge-process.js';

const SERVICE_ACCOUNT = 'hpcbridge-svc';
const STAND_IN = join(REPO, 'test/fixtures/http-stand-in-server.mjs');
const execFileP = promisify(execFile);

let dir: string;
let slurm: SlurmCluster;
let svc: UserInfo;
let bridge: Bridge;
let bridgeConfig: string;
let hpcWrap: string[];
let logText = '';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(300);
  }
  throw new Error(`timed out waiting for ${what}; bridge log tail: ${logText.slice(-2000)}`);
}

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(bridge.url + path, {
    method,
    headers: { Authorization: `Bearer ${bridge.token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return res.json();
}

async function start(user: string, profile: string, command = [process.execPath, STAND_IN]): Promise<any> {
  const s = await api('POST', '/v1/sessions', { user, profile, env: { JUPYTERHUB_SERVICE_PREFIX: `/user/${user}/` }, command });
  expect(s.id, JSON.stringify(s)).toMatch(/^s-/);
  return s;
}

const stateOf = (id: string, ...states: string[]) =>
  until(`session ${id} in ${states.join('/')}`, async () => {
    const s = await api('GET', `/v1/sessions/${id}`);
    return states.includes(s.state) ? s : undefined;
  });

beforeAll(async () => {
  dir = mkdtempSync('/tmp/hb-acct-');
  chmodSync(dir, 0o755);
  svc = await ensureUser(SERVICE_ACCOUNT);
  slurm = await startSlurm({ dir: join(dir, 'slurm'), accounting: { associations: [{ user: SERVICE_ACCOUNT, account: 'course-x' }] } });
  mkdirSync(join(dir, 'bin'), { mode: 0o755 });
  copyFileSync(join(REPO, 'dist/hpc-wrap.mjs'), join(dir, 'bin/hpc-wrap.mjs'));
  const workDir = join(dir, 'hpc');
  mkdirSync(workDir, { mode: 0o755 });
  chownSync(workDir, svc.uid, svc.gid);
  const hpcConfig = join(dir, 'hpc-wrap.yaml');
  writeFileSync(hpcConfig, stringify({ workDir, scheduler: { kind: 'slurm', env: slurm.env, timeoutSeconds: 15 } }));
  hpcWrap = [process.execPath, join(dir, 'bin/hpc-wrap.mjs'), '--config', hpcConfig];
  mkdirSync(join(dir, 'bridge'), { mode: 0o700 });
  bridgeConfig = join(dir, 'bridge/hub-bridge.yaml');
  writeFileSync(
    bridgeConfig,
    stringify({
      listen: { host: '127.0.0.1', port: 0 },
      apiTokenFile: join(dir, 'bridge/token'),
      stateDb: join(dir, 'bridge/bridge.sqlite'),
      metrics: { tokenFile: join(dir, 'bridge/metrics-token') },
      cluster: { transport: { kind: 'local', runAs: SERVICE_ACCOUNT }, hpcWrap },
      status: { intervalSeconds: 1, startingIntervalSeconds: 0.5 },
      accounting: { intervalSeconds: 1 },
      profiles: [
        { name: 'two', displayName: 'Two CPUs', resources: { cpus: 2, memoryMB: 256, walltime: '00:10:00' } },
        { name: 'one', displayName: 'One CPU', resources: { cpus: 1, memoryMB: 256, walltime: '00:10:00' } },
      ],
    }),
  );
  const sink = new Writable({ write: (c, _e, cb) => ((logText += String(c)), cb()) });
  bridge = await startBridge(loadHubBridgeConfig(bridgeConfig), createLogger('info', sink));
}, 180_000);

afterAll(async () => {
  await bridge?.close().catch(() => {});
  await slurm?.stop().catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('usage from Slurm accounting (slurmdbd)', () => {
  const ended: string[] = [];
  let live: any;

  it('after sessions end, usage reports the CPU time sacct reports for their jobs', async () => {
    const from = new Date(Date.now() - 60_000).toISOString();
    const a = await start('acct-alice', 'two');
    const b = await start('acct-bob', 'one');
    const c = await start('acct-carol', 'one', [process.execPath, STAND_IN, '--exit-code', '3']);
    live = await start('acct-dave', 'one');
    await Promise.all([stateOf(a.id, 'ready'), stateOf(b.id, 'ready'), stateOf(live.id, 'ready')]);
    await stateOf(c.id, 'failed');
    await sleep(2500); // some CPU time to count
    await api('DELETE', `/v1/sessions/${a.id}`);
    await api('DELETE', `/v1/sessions/${b.id}`);
    await Promise.all([stateOf(a.id, 'stopped'), stateOf(b.id, 'stopped')]);
    const jobs = await Promise.all([a, b, c].map(async (s) => (await api('GET', `/v1/sessions/${s.id}`)).jobId as string));
    ended.push(...jobs);
    const to = new Date(Date.now() + 60_000).toISOString();

    // what sacct itself says about those jobs
    const sacct = await slurm.run(['sacct', '--parsable2', '--noheader', '--allocations', '--format=JobID,CPUTimeRAW,State,ExitCode,Account', `--jobs=${jobs.join(',')}`]);
    const rows = new Map(sacct.stdout.trim().split('\n').map((l) => { const [id, cpu, state, exit, account] = l.split('|'); return [id!, { cpu: Number(cpu), state: state!, exit: exit!, account: account! }]; }));
    expect([...rows.keys()].sort()).toEqual([...jobs].sort());
    expect(rows.get(jobs[0]!)!.cpu).toBeGreaterThanOrEqual(2 * 2); // 2 CPUs × ≥2 s

    const report = await until('the accounting poller to store sacct for the three jobs', async () => {
      const r = await api('GET', `/v1/usage?from=${from}&to=${to}&by=user`);
      return r.source.kind === 'scheduler' && r.source.schedulerJobs === 3 ? r : undefined;
    });
    const cpuOf = (user: string) => report.rows.find((l: any) => l.key === user).cpuHours * 3600;
    expect(cpuOf('acct-alice')).toBeCloseTo(rows.get(jobs[0]!)!.cpu, 1);
    expect(cpuOf('acct-bob')).toBeCloseTo(rows.get(jobs[1]!)!.cpu, 1);
    expect(cpuOf('acct-carol')).toBeCloseTo(rows.get(jobs[2]!)!.cpu, 1);
    // still running: counted as a session, not yet in CPU-hours
    expect(report.rows.find((l: any) => l.key === 'acct-dave')).toMatchObject({ sessions: 1, cpuHours: 0 });
    expect(report.source.runningJobs).toBe(1);
  }, 240_000);

  it('keeps sacct\'s state, exit code and allocation in the jobs table, and the CLI agrees with the API', async () => {
    const db = bridge.store.database;
    const rec = db.prepare('SELECT sched_state, sched_exit_code, alloc_cpus, alloc_memory_mb, account, elapsed_seconds FROM jobs WHERE job_id = ?');
    expect(rec.get(ended[0])).toMatchObject({ sched_state: 'CANCELLED', alloc_cpus: 2, alloc_memory_mb: 256, account: 'course-x' });
    expect(rec.get(ended[2])).toMatchObject({ sched_state: 'FAILED', sched_exit_code: 3, alloc_cpus: 1 });
    const from = new Date(Date.now() - 3600_000).toISOString();
    const to = new Date(Date.now() + 3600_000).toISOString();
    const cli = await execFileP(process.execPath, [join(REPO, 'dist/hpc-bridge.mjs'), '--config', bridgeConfig, 'usage', '--from', from, '--to', to, '--by', 'account', '--json']);
    const viaApi = await api('GET', `/v1/usage?from=${from}&to=${to}&by=account`);
    expect(JSON.parse(cli.stdout)).toEqual(viaApi);
    // the three ended jobs carry sacct's account; the running one's is not known yet
    expect(viaApi.rows.map((l: any) => [l.key, l.jobs])).toEqual([['(unknown)', 1], ['course-x', 3]]);
    expect(viaApi.total.medianQueueWaitSeconds).not.toBeNull();
  }, 60_000);

  it('hpc-wrap clean removes the ended sessions\' run dirs and keeps the live one', async () => {
    const r = await slurm.run([...hpcWrap, 'clean', '--older-than', '1s'], { user: SERVICE_ACCOUNT });
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as { removed: { jobId: string | null; sessionId: string }[]; keptLive: number };
    expect(rep.removed.map((x) => x.jobId).sort()).toEqual([...ended].sort());
    expect(rep.keptLive).toBe(1);
    const liveDir = join(dir, 'hpc/users', 'acct-dave', 'sessions', live.id);
    expect(existsSync(liveDir)).toBe(true);
    await api('DELETE', `/v1/sessions/${live.id}`);
    await stateOf(live.id, 'stopped');
  }, 60_000);
});
