// GET /metrics with 1,000 (then 3,000) sessions in the store (every live state, several
// profiles, filled histograms, a tunnel state per session), next to GET /healthz and
// GET /v1/sessions/:id measured in the same run, requests interleaved so that all three see
// the same machine load. The client is a process of its own (scrape-client.mjs, as
// Prometheus is); each request is timed twice: by the client (what the scraper waits) and
// inside the bridge (request received → response handed to the socket), in wall time and in
// CPU time of the bridge's process (what a scrape costs it; unlike wall time, not stretched
// while other programs on a shared machine hold the CPU). Then the text is rendered
// in-process without HTTP. The bridge process holds as many open descriptors as the live
// sessions' tunnels would (2 each: the hub-side port and the agent's SSH connection), since
// process_open_fds depends on them. Target (issue 12): /metrics p99 under 5 ms; the ratio to
// /healthz says how much of a figure is the machine.
// Not a test: nothing passes or fails on timing.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { loadHubBridgeConfig } from '../../config/load.js';
import { startBridge } from '../../hub-bridge/bridge.js';
import { createLogger } from '../../hub-bridge/log.js';
import { SESSION_STATES, type SessionState } from '../../hub-bridge/sessions/types.js';
import { SessionStore } from '../../hub-bridge/store/session-store.js';
import { percentile, REPO, table } from './bench-cluster.js';

const PROFILES = ['small', 'medium', 'large', 'gpu'];

function sessionId(i: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let x = i;
  let id = 's-';
  for (let k = 0; k < 26; k++, x = Math.floor(x / 32)) id += alphabet[x % 32];
  return id;
}

// `submitting` is left out: on start the bridge would submit those again (a transient state anyway)
const STATES = SESSION_STATES.filter((s) => s !== 'submitting');

/** n sessions spread over the states and profiles; terminal ones have a job row too. */
function fillStore(file: string, n: number): void {
  const store = new SessionStore(file);
  for (let i = 0; i < n; i++) {
    const id = sessionId(i);
    const state = STATES[i % STATES.length] as SessionState;
    const profile = PROFILES[i % PROFILES.length]!;
    const s = store.create({ id, user: `user${i}`, serverName: '', profile, servicePrefix: `/user/user${i}/`, submitDoc: '{}' }, null);
    store.clearSubmitDoc(id);
    store.addEvent(id, 'requested', 'Requested', 0);
    // job ids only for terminal sessions: the status poller has nothing to ask the scheduler
    const terminal = state === 'stopped' || state === 'failed';
    store.update(id, { state, jobId: terminal ? `fork-${900_000 + i}` : null, jobState: terminal ? 'done' : 'running', host: '127.0.0.1', port: 1 });
    if (terminal) {
      store.recordJobSubmitted(s, `fork-${900_000 + i}`);
      store.recordJobEnded(`fork-${900_000 + i}`, id, 'done', 0);
    }
  }
  store.close();
}

interface Row {
  name: string;
  client: number[];
  server: number[];
  cpu: number[];
}

/** Runs scrape-client.mjs with its request on stdin; resolves with its sorted times per kind. */
function runClient(input: unknown): Promise<Record<string, number[]>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO, 'test/bench/scrape-client.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Record<string, number[]>) : reject(new Error(`scrape-client.mjs exited with ${code}`))));
    child.stdin.end(JSON.stringify(input));
  });
}

const METRICS = 'GET /metrics';
const HEALTHZ = 'GET /healthz (baseline)';
const SESSION = 'GET /v1/sessions/:id (baseline)';

/** One store size: returns the rows of the table (times in ms, sorted) and the body size. */
async function measure(sessions: number, rounds: number): Promise<{ rows: Row[]; render: number[]; promClient: number[]; bytes: number; fds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'hpc-bridge-bench-metrics-'));
  try {
    const db = join(dir, 'bridge.sqlite');
    fillStore(db, sessions);
    const cfgFile = join(dir, 'hub-bridge.yaml');
    writeFileSync(
      cfgFile,
      stringify({
        listen: { port: 0 },
        apiTokenFile: join(dir, 'token'),
        stateDb: db,
        metrics: { tokenFile: join(dir, 'metrics-token') },
        cluster: { hpcWrap: [process.execPath, join(REPO, 'dist/hpc-wrap.mjs'), '--config', join(dir, 'hpc-wrap.yaml')] },
        status: { intervalSeconds: 3600, startingIntervalSeconds: 600 },
        accounting: { intervalSeconds: 86_400 },
        profiles: PROFILES.map((name) => ({ name, displayName: name })),
      }),
    );
    writeFileSync(join(dir, 'hpc-wrap.yaml'), stringify({ workDir: join(dir, 'hpc'), scheduler: { kind: 'fork' } }));
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const bridge = await startBridge(loadHubBridgeConfig(cfgFile), createLogger('silent', sink));
    // filled histograms and counters, as after a busy day
    const m = bridge.watch.metrics!;
    for (const s of bridge.store.list({ limit: sessions })) {
      m.sessions.created!(s);
      m.sessions.ready!({ ...s, createdAt: new Date(Date.now() - (s.number % 600) * 1000).toISOString() });
      m.poller.polled!({ seconds: (s.number % 50) / 10, jobs: s.number % 300, outcome: 'ok' });
      m.sessions.tunnel!(s, s.number % 7 ? 'up' : 'down', 'connecting'); // a tunnel state per session behind the gauge
      m.tunnel.bytes('to_notebook', 4096);
    }
    // the descriptors the live sessions' tunnels would hold
    const held = Array.from({ length: 2 * bridge.store.live().length }, () => openSync('/dev/null', 'r'));
    // server-side wall and CPU time of every request, by kind, in arrival order
    const server: Record<string, number[]> = { [METRICS]: [], [HEALTHZ]: [], [SESSION]: [] };
    const cpu: Record<string, number[]> = { [METRICS]: [], [HEALTHZ]: [], [SESSION]: [] };
    bridge.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const kind = req.url === '/metrics' ? METRICS : req.url === '/healthz' ? HEALTHZ : SESSION;
      res.once('finish', () => {
        const c = process.cpuUsage(c0);
        server[kind]!.push(performance.now() - t0);
        cpu[kind]!.push((c.user + c.system) / 1000);
      });
    });
    const metricsToken = readFileSync(join(dir, 'metrics-token'), 'utf8').trim();
    const ids = bridge.store.live().map((s) => s.id);
    const warmup = 100;
    const client = await runClient({
      base: bridge.url,
      warmup,
      rounds,
      kinds: [
        { name: METRICS, paths: ['/metrics'], headers: { Authorization: `Bearer ${metricsToken}` } },
        { name: HEALTHZ, paths: ['/healthz'], headers: {} },
        { name: SESSION, paths: ids.map((id) => `/v1/sessions/${id}`), headers: { Authorization: `Bearer ${bridge.token}` } },
      ],
    });
    const bytes = Buffer.byteLength((await m.text()).body);
    // the same text rendered in-process, without HTTP: ours (m.text()), and prom-client's
    // Registry.metrics() for comparison, interleaved
    const render: number[] = [];
    const promClient: number[] = [];
    for (let i = 0; i < warmup + rounds; i++) {
      let t0 = performance.now();
      await m.text();
      if (i >= warmup) render.push(performance.now() - t0);
      t0 = performance.now();
      await m.registry.metrics();
      if (i >= warmup) promClient.push(performance.now() - t0);
    }
    await bridge.close();
    for (const fd of held) closeSync(fd);
    const sorted = (t: number[]) => t.slice(warmup).sort((a, b) => a - b);
    const rows = [METRICS, HEALTHZ, SESSION].map((name) => ({ name, client: client[name]!, server: sorted(server[name]!), cpu: sorted(cpu[name]!) }));
    return { rows, render: render.sort((a, b) => a - b), promClient: promClient.sort((a, b) => a - b), bytes, fds: held.length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function metricsEndpoint(sizes: Array<[sessions: number, rounds: number]> = [[1000, 2000], [3000, 1000]]): Promise<void> {
  const ms = (v: number) => v.toFixed(2);
  for (const [sessions, rounds] of sizes) {
    const { rows, render, promClient, bytes, fds } = await measure(sessions, rounds);
    const by = (name: string) => rows.find((r) => r.name === name)!;
    const p = (t: number[], q: number) => percentile(t, q);
    const [mt, hz] = [by(METRICS), by(HEALTHZ)];
    const x = (a: number, b: number) => `${(a / b).toFixed(1)}x`;
    console.log(
      `\nGET /metrics with ${sessions} sessions in the store, ${fds} descriptors held for their tunnels (${rounds} requests each, interleaved, client in its own process; body ${(bytes / 1024).toFixed(1)} KiB)`,
    );
    console.log(
      table([
        ['', 'client p50', 'client p99', 'in bridge p50', 'in bridge p99', 'bridge CPU p50', 'bridge CPU p99'],
        ...rows.map((r) => [r.name, ...[r.client, r.server, r.cpu].flatMap((t) => [ms(p(t, 50)), ms(p(t, 99))])]),
        ['ratio /metrics : /healthz', ...(['client', 'server', 'cpu'] as const).flatMap((k) => [x(p(mt[k], 50), p(hz[k], 50)), x(p(mt[k], 99), p(hz[k], 99))])],
        ['render only (no HTTP)', '', '', ms(p(render, 50)), ms(p(render, 99)), '', ''],
        ["render only, prom-client's Registry.metrics() (comparison)", '', '', ms(p(promClient, 50)), ms(p(promClient, 99)), '', ''],
      ]),
    );
    console.log('(ms; client = as the scraper waits; in bridge = request received → response handed to the socket)');
    // What a scrape costs the bridge (issue 12: "the metrics endpoint costs < 5 ms p99") is
    // its time and CPU inside the bridge; what the scraper waits adds the machine's own
    // scheduling tail, shown by /healthz (which does nothing) in the same run.
    const [inBridge, cpu99] = [p(mt.server, 99), p(mt.cpu, 99)];
    console.log(
      `target: /metrics costs < 5 ms p99 → ${inBridge < 5 && cpu99 < 5 ? 'met' : 'NOT met'} (in the bridge p99 ${ms(inBridge)} ms, bridge CPU p99 ${ms(cpu99)} ms); ` +
        `as the scraper waits p99 ${ms(p(mt.client, 99))} ms, /healthz ${ms(p(hz.client, 99))} ms in the same run`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await metricsEndpoint();
