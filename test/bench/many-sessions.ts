// Many sessions and bursts (issue 10 point 6): the bridge's own work with 1,000 and 3,000
// live sessions in its store. Measured in this process, over real HTTP on loopback, with
// the real store (SQLite WAL file), service, poller and API; the cluster behind them is the
// scripted test double (test/support/scripted-cluster.ts) because what is measured is the
// bridge, not the scheduler (scheduler-load.ts and queued-polling.ts measure that side).
// Prints, side by side: a page (limit 100) next to one 1,000-row answer (what every
// unpaged GET /v1/sessions returned before paging), p50/p99; RSS at 1,000; rows written and
// CPU per poll when nothing changed; 100 creates at once (all accepted, time to answer all,
// time until all were submitted with startjobs of 300 ms, 4 at once).
// Targets: page p99 <= 20 ms at 3,000; RSS <= 150 MB at 1,000; 0 rows written per idle poll.
import type { Server } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadHubBridgeConfig } from '../../config/load.js';
import { createApp } from '../../hub-bridge/api/app.js';
import { SessionService } from '../../hub-bridge/sessions/session-service.js';
import { StatusPoller } from '../../hub-bridge/sessions/status-poller.js';
import { SessionStore } from '../../hub-bridge/store/session-store.js';
import { ScriptedCluster } from '../support/scripted-cluster.js';
import { writeConfigs } from '../support/bridge-fixture.js';
import { startBridgeProcess } from '../system/bridge-process.js';
import { freePort } from '../system/harness/ports.js';
import { percentile, silentLog, storeWithSessions, table } from './bench-cluster.js';

const TOKEN = 'bench-token-0123456789abcdef';
const headers = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };

interface Bridge {
  store: SessionStore;
  service: SessionService;
  poller: StatusPoller;
  cluster: ScriptedCluster;
  base: string;
  close(): Promise<void>;
}

async function bridge(dir: string, name: string, submitConcurrency = 4): Promise<Bridge> {
  const store = new SessionStore(join(dir, `${name}.sqlite`));
  const cluster = new ScriptedCluster();
  const config = loadHubBridgeConfig(null, { cluster: { submitConcurrency } });
  const service = new SessionService(store, cluster.asClient(), config, silentLog);
  const clock = { t: 0 };
  const poller = new StatusPoller(store, service, cluster.asClient(), { intervalMs: 15_000, startingIntervalMs: 1000, queuedIntervalMs: 10_000 }, silentLog, () => (clock.t += 60_000));
  const app = createApp({ service, store, token: TOKEN, maxBodyBytes: 256 * 1024, log: silentLog });
  const server = await new Promise<Server>((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  const a = server.address();
  const base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  return {
    store, service, poller, cluster, base,
    async close() {
      await service.close();
      await new Promise((r) => server.close(r));
      store.close();
    },
  };
}

/** n live sessions as a busy course has them: mostly queued with positions, some ready. */
async function fill(b: Bridge, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await b.service.create({ user: `student${i}`, env: { JUPYTERHUB_SERVICE_PREFIX: `/user/student${i}/` } }, null);
  while (b.store.page({ states: ['submitting'], limit: 1 }).items.length) await new Promise((r) => setTimeout(r, 20));
  await b.poller.tick(); // queued, with positions
  const ready = b.store.page({ states: ['queued'], limit: Math.floor(n / 3) }).items;
  for (const s of ready) b.store.update(s.id, { state: 'ready', jobState: 'running', node: 'cn001', host: 'cn001', port: 50000, queuePosition: null });
  for (const s of ready) b.cluster.status(s.jobId!, { state: 'running', node: 'cn001' });
  await b.poller.tick();
}

async function latencies(url: string, runs: number): Promise<{ p50: number; p99: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < runs + 20; i++) {
    const t0 = performance.now();
    const body = await (await fetch(url, { headers })).text();
    if (i >= 20) times.push(performance.now() - t0); // after a warm-up
    bytes = body.length;
  }
  times.sort((x, y) => x - y);
  return { p50: percentile(times, 50), p99: percentile(times, 99), bytes };
}

/** Rows written and CPU ms of one poll in which no job changed (the average of five). */
async function idlePoll(b: Bridge): Promise<{ writes: number; cpuMs: number; asked: number }> {
  await b.poller.tick();
  const w0 = b.store.writes;
  const asked0 = b.cluster.asked.length;
  const c0 = process.cpuUsage();
  for (let i = 0; i < 5; i++) await b.poller.tick();
  const c = process.cpuUsage(c0);
  const asked = b.cluster.asked.slice(asked0).reduce((n, a) => n + a.length, 0) / 5;
  return { writes: (b.store.writes - w0) / 5, cpuMs: (c.user + c.system) / 1000 / 5, asked };
}

/**
 * The bridge as its own process (dist/hpc-bridge.mjs, as an admin runs it) on a store of n
 * live sessions, after 200 page reads and its first polls: its resident memory (VmRSS) and
 * peak (VmHWM). Its hpc-wrap is /bin/false, so every poll finds the scheduler unreachable
 * (which changes no session), the bridge's memory is what is measured.
 */
async function bridgeProcessRss(dir: string, n: number): Promise<{ rss: number; hwm: number }> {
  const home = join(dir, `proc-${n}`);
  mkdirSync(home, { mode: 0o700 }); // the bridge refuses a state dir others can read
  storeWithSessions(join(home, 'bridge.sqlite'), n).close();
  const port = await freePort();
  const { bridgeConfig } = writeConfigs(home, { listen: { host: '127.0.0.1', port }, cluster: { hpcWrap: ['/bin/false'] }, status: { intervalSeconds: 1, startingIntervalSeconds: 1 } });
  const b = await startBridgeProcess({ config: bridgeConfig, port, tokenFile: join(home, 'token') });
  try {
    let cursor: string | null = null;
    for (let i = 0; i < 200; i++) {
      const r = await b.api('GET', `/v1/sessions?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
      cursor = r.json.next;
    }
    await new Promise((r) => setTimeout(r, 3000)); // a few polls
    const status = readFileSync(`/proc/${b.child.pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } finally {
    await b.kill('SIGTERM');
  }
}

async function burst(dir: string): Promise<{ accepted: number; statuses: string; answerMs: number; submittedMs: number; peak: number }> {
  const b = await bridge(dir, 'burst');
  try {
    b.cluster.submitMs = 300; // a warm hpc-wrap startjob
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        fetch(`${b.base}/v1/sessions`, { method: 'POST', headers, body: JSON.stringify({ user: `burst${i}`, env: {} }) }).then((r) => r.status, (e: Error) => `error ${e.message}`),
      ),
    );
    const answerMs = performance.now() - t0;
    while (b.store.page({ states: ['submitting'], limit: 1 }).items.length) await new Promise((r) => setTimeout(r, 10));
    const submittedMs = performance.now() - t0;
    const counts = new Map<string, number>();
    for (const r of results) counts.set(String(r), (counts.get(String(r)) ?? 0) + 1);
    return { accepted: results.filter((r) => r === 201).length, statuses: [...counts].map(([k, v]) => `${v}×${k}`).join(' '), answerMs, submittedMs, peak: b.service.submits.peak };
  } finally {
    await b.close();
  }
}

export async function manySessions(sizes = [100, 1000, 3000]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hpc-bridge-many-'));
  try {
    const rows: (string | number)[][] = [[
      'live sessions', 'page (100) p50 ms', 'page (100) p99 ms', 'user filter p99 ms', '1,000 rows p50 ms', '1,000 rows p99 ms', '1,000 rows KB',
      'RSS MB', 'rows written / idle poll', 'bridge CPU ms / idle poll', 'jobs asked / idle poll',
    ]];
    const fmt = (v: number) => v.toFixed(1);
    for (const n of sizes) {
      const b = await bridge(dir, `live-${n}`);
      await fill(b, n);
      const page = await latencies(`${b.base}/v1/sessions?limit=100`, 300);
      const user = await latencies(`${b.base}/v1/sessions?user=student${Math.floor(n / 2)}`, 300);
      const big = await latencies(`${b.base}/v1/sessions?limit=1000`, 50);
      (globalThis as { gc?: () => void }).gc?.();
      const rss = process.memoryUsage().rss / 2 ** 20;
      const poll = await idlePoll(b);
      rows.push([n, fmt(page.p50), fmt(page.p99), fmt(user.p99), fmt(big.p50), fmt(big.p99), (big.bytes / 1024).toFixed(0), rss.toFixed(0), poll.writes, fmt(poll.cpuMs), poll.asked]);
      await b.close();
    }
    const procRss = await bridgeProcessRss(dir, 1000);
    const burstResult = await burst(dir);
    console.log('\nMany sessions (bridge in this process, real SQLite and HTTP, scripted cluster; 1/3 ready, the rest queued)');
    console.log(table(rows));
    console.log('(before paging every GET /v1/sessions was the "1,000 rows" answer, and lists stopped silently at 1,000; RSS is this benchmark process)');
    console.log(`\nThe bridge as its own process (dist/hpc-bridge.mjs) with 1,000 live sessions, after 200 page reads and its polls: RSS ${procRss.rss.toFixed(0)} MB, peak ${procRss.hwm.toFixed(0)} MB (target <= 150 MB)`);
    console.log(`\n100 POST /v1/sessions at once (startjob 300 ms, cluster.submitConcurrency 4): ${burstResult.accepted}/100 accepted (${burstResult.statuses}), all answered in ${burstResult.answerMs.toFixed(0)} ms, all submitted after ${(burstResult.submittedMs / 1000).toFixed(1)} s, at most ${burstResult.peak} startjobs at once`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await manySessions();
