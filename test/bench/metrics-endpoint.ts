// GET /metrics with 1,000 sessions in the store (every live state, several profiles, filled
// histograms), next to GET /healthz and GET /v1/sessions/:id measured in the same run,
// requests interleaved so that all three see the same machine load. Target: /metrics p99
// under 5 ms. Not a test: nothing passes or fails on timing.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

export async function metricsEndpoint(sessions = 1000, rounds = 2000): Promise<void> {
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
      m.sessions.tunnel!(s, s.number % 7 ? 'up' : 'down', 'connecting'); // 1,000 tunnel states behind the gauge
      m.tunnel.bytes('to_notebook', 4096);
    }
    const metricsAuth = { Authorization: `Bearer ${readFileSync(join(dir, 'metrics-token'), 'utf8').trim()}` };
    const apiAuth = { Authorization: `Bearer ${bridge.token}` };
    const ids = bridge.store.live().map((s) => s.id);
    const kinds = {
      'GET /metrics': (i: number) => fetch(`${bridge.url}/metrics`, { headers: metricsAuth }),
      'GET /healthz (baseline)': () => fetch(`${bridge.url}/healthz`),
      'GET /v1/sessions/:id (baseline)': (i: number) => fetch(`${bridge.url}/v1/sessions/${ids[i % ids.length]}`, { headers: apiAuth }),
    };
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
    let bytes = 0;
    for (let i = 0; i < 100; i++) for (const f of Object.values(kinds)) await (await f(i)).text(); // warm-up
    for (let i = 0; i < rounds; i++) {
      for (const [k, f] of Object.entries(kinds)) {
        const t0 = performance.now();
        const res = await f(i);
        const text = await res.text();
        times[k]!.push(performance.now() - t0);
        if (k === 'GET /metrics') bytes = text.length;
      }
    }
    // the same text rendered in-process, without HTTP: what the scrape itself costs the bridge
    times['render only (registry.metrics(), no HTTP)'] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      await m.text();
      times['render only (registry.metrics(), no HTTP)']!.push(performance.now() - t0);
    }
    await bridge.close();
    for (const t of Object.values(times)) t.sort((a, b) => a - b);
    const p = (k: string, q: number) => percentile(times[k]!, q);
    console.log(`\nGET /metrics with ${sessions} sessions in the store (${rounds} requests each, interleaved; /metrics body ${(bytes / 1024).toFixed(1)} KiB)`);
    console.log(
      table([
        ['', 'p50 ms', 'p99 ms', 'p99 / healthz p99'],
        ...Object.keys(times).map((k) => [k, p(k, 50).toFixed(2), p(k, 99).toFixed(2), `${(p(k, 99) / p('GET /healthz (baseline)', 99)).toFixed(1)}x`]),
      ]),
    );
    console.log(`target: /metrics p99 < 5 ms → ${p('GET /metrics', 99) < 5 ? 'met' : 'NOT met'} (${p('GET /metrics', 99).toFixed(2)} ms)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await metricsEndpoint();
