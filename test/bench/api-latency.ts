// GET /v1/sessions/:id latency with 500 live sessions (served from the bridge's store),
// next to one `squeue -j ID` (what a per-session status check costs at minimum).
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { writeFileSync } from 'node:fs';
import { loadHubBridgeConfig } from '../../config/load.js';
import { startBridge } from '../../hub-bridge/bridge.js';
import { createLogger } from '../../hub-bridge/log.js';
import { benchCluster, percentile, storeWithSessions, table } from './bench-cluster.js';

export async function apiLatency(sessions = 500, requests = 2000): Promise<void> {
  const c = await benchCluster();
  try {
    const db = join(c.dir, 'api.sqlite');
    storeWithSessions(db, sessions).close();
    const cfgFile = join(c.dir, 'hub-bridge.yaml');
    writeFileSync(cfgFile, stringify({ listen: { port: 0 }, apiTokenFile: join(c.dir, 'token'), stateDb: db, cluster: { hpcWrap: c.hpcWrap }, status: { intervalSeconds: 5 } }));
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const bridge = await startBridge(loadHubBridgeConfig(cfgFile), createLogger('silent', sink), { transport: c.transport });
    const ids = bridge.store.live().map((s) => s.id);
    const headers = { Authorization: `Bearer ${bridge.token}` };
    for (let i = 0; i < 100; i++) await (await fetch(`${bridge.url}/v1/sessions/${ids[i % ids.length]}`, { headers })).text(); // warm-up
    const times: number[] = [];
    for (let i = 0; i < requests; i++) {
      const t0 = performance.now();
      const res = await fetch(`${bridge.url}/v1/sessions/${ids[i % ids.length]}`, { headers });
      await res.text();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    await bridge.close();

    const sq: number[] = [];
    if (c.slurm) {
      for (let i = 0; i < 30; i++) {
        const r = await c.slurm.run(['squeue', '-h', '-j', '900000', '-o', '%T %B']);
        sq.push(r.ms);
      }
      sq.sort((a, b) => a - b);
    }
    console.log(`\nGET /v1/sessions/:id with ${sessions} live sessions (${requests} requests) vs one squeue -j ID (${sq.length} runs)`);
    const fmt = (v: number) => (Number.isNaN(v) ? 'n/a' : v.toFixed(2));
    console.log(table([
      ['', 'p50 ms', 'p99 ms'],
      ['bridge GET /v1/sessions/:id', fmt(percentile(times, 50)), fmt(percentile(times, 99))],
      ['squeue -j ID (local, real slurmctld)', fmt(percentile(sq, 50)), fmt(percentile(sq, 99))],
      ['ratio squeue / bridge', sq.length ? (percentile(sq, 50) / percentile(times, 50)).toFixed(0) + 'x' : 'n/a', sq.length ? (percentile(sq, 99) / percentile(times, 99)).toFixed(0) + 'x' : 'n/a'],
    ]));
  } finally {
    await c.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await apiLatency();
