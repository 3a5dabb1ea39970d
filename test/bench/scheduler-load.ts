// Scheduler calls per status interval with 1, 10, 100 and 500 live sessions: the bridge's
// poller (ONE hpc-wrap jobstate call, ONE squeue) next to batchspawner's model (one
// `squeue -h -j ID -o '%T %B'` per session per poll), measured on a real slurmctld with sdiag.
import { join } from 'node:path';
import { SessionService } from '../../hub-bridge/sessions/session-service.js';
import { StatusPoller } from '../../hub-bridge/sessions/status-poller.js';
import { loadHubBridgeConfig } from '../../config/load.js';
import { benchCluster, jobInfoRpcs, silentLog, storeWithSessions, table } from './bench-cluster.js';

export async function schedulerLoad(sizes = [1, 10, 100, 500]): Promise<void> {
  const c = await benchCluster();
  try {
    const rows: (string | number)[][] = [[
      'live sessions', 'bridge: hpc-wrap calls', 'bridge: slurmctld job-info RPCs', 'bridge: wall ms',
      'batchspawner model: squeue calls', 'batchspawner: slurmctld job-info RPCs', 'batchspawner: wall ms', 'RPC ratio',
    ]];
    for (const n of sizes) {
      const store = storeWithSessions(join(c.dir, `load-${n}.sqlite`), n);
      const config = loadHubBridgeConfig(null, {});
      const service = new SessionService(store, c.client, config, silentLog);
      const poller = new StatusPoller(store, service, c.client, { intervalMs: 1e9, startingIntervalMs: 1e9 }, silentLog);

      c.transport.calls = 0;
      const rpc0 = c.slurm ? await jobInfoRpcs(c.slurm) : 0;
      const t0 = performance.now();
      await poller.tick(); // one status interval
      const ours = performance.now() - t0;
      const oursRpc = c.slurm ? (await jobInfoRpcs(c.slurm)) - rpc0 : NaN;

      let theirs = NaN;
      let theirsRpc = NaN;
      if (c.slurm) {
        const r0 = await jobInfoRpcs(c.slurm);
        const t1 = performance.now();
        for (let i = 0; i < n; i++) await c.slurm.run(['squeue', '-h', '-j', String(900_000 + i), '-o', '%T %B']);
        theirs = performance.now() - t1;
        theirsRpc = (await jobInfoRpcs(c.slurm)) - r0;
      }
      rows.push([n, c.transport.calls, oursRpc, ours.toFixed(0), n, theirsRpc, Number.isNaN(theirs) ? 'n/a' : theirs.toFixed(0), Number.isNaN(theirsRpc) ? 'n/a' : `${(theirsRpc / Math.max(1, oursRpc)).toFixed(0)}x`]);
      store.close();
    }
    console.log(`\nScheduler load per status interval (${c.slurm ? 'real slurmctld, counted with sdiag' : 'fork scheduler: no slurmctld here, hpc-wrap calls only'})`);
    console.log(table(rows));
  } finally {
    await c.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await schedulerLoad();
