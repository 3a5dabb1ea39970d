// Waiting in the queue is cheap (issue 10 point 5), side by side in one run:
//  - the pace: jobstate calls per minute the bridge's real poller makes with N queued
//    sessions over 10 minutes of fake time (scripted answers: test/support/scripted-cluster.ts),
//    before (queued counted as starting: status.queuedIntervalSeconds = the starting pace,
//    what the bridge did until now) and after (the default 10 s);
//  - the cost of one call: a real `hpc-wrap jobstate` for N pending jobs (real Slurm when
//    run as root with slurm installed: jobs held back with --begin, so they wait and get
//    positions; else the fork scheduler), its CPU on the hub host (the child's user+system
//    time from /proc/self/stat) and wall time, and the squeue rows it read: the whole queue
//    before (one `squeue --states=all`), ours plus the pending jobs of our partitions after;
//  - hub CPU per minute = calls per minute × CPU per call.
import { readFileSync } from 'node:fs';
import { loadHubBridgeConfig } from '../../config/load.js';
import { SessionService } from '../../hub-bridge/sessions/session-service.js';
import { StatusPoller } from '../../hub-bridge/sessions/status-poller.js';
import { SessionStore } from '../../hub-bridge/store/session-store.js';
import { SQUEUE_FORMAT } from '../../hpc-wrappers/schedulers/slurm/squeue-parser.js';
import { ScriptedCluster } from '../support/scripted-cluster.js';
import { benchCluster, percentile, silentLog, table } from './bench-cluster.js';

function childCpuMs(): number {
  const f = readFileSync('/proc/self/stat', 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100; // cutime, cstime (USER_HZ 100)
}

/** Calls per minute (and jobs named per minute) over minutes 2-10 of fake time. */
async function pace(n: number, queuedIntervalMs: number): Promise<{ callsPerMin: number; jobsPerMin: number }> {
  const store = new SessionStore(':memory:');
  const cluster = new ScriptedCluster();
  const service = new SessionService(store, cluster.asClient(), loadHubBridgeConfig(null, {}), silentLog);
  const clock = { t: 0 };
  const poller = new StatusPoller(store, service, cluster.asClient(), { intervalMs: 15_000, startingIntervalMs: 1000, queuedIntervalMs }, silentLog, () => clock.t);
  for (let i = 0; i < n; i++) await service.create({ user: `q${i}`, env: {} }, null);
  while (store.page({ states: ['submitting'], limit: 1 }).items.length) await new Promise((r) => setTimeout(r, 5));
  const runUntil = async (end: number) => {
    while (clock.t <= end) {
      await poller.tick();
      clock.t += Math.max(1, poller.nextDelay());
    }
  };
  await runUntil(60_000);
  const c0 = cluster.jobStateCalls;
  const a0 = cluster.asked.length;
  await runUntil(10 * 60_000);
  const minutes = 9;
  const jobs = cluster.asked.slice(a0).reduce((s, a) => s + a.length, 0);
  await service.close();
  store.close();
  return { callsPerMin: (cluster.jobStateCalls - c0) / minutes, jobsPerMin: jobs / minutes };
}

export async function queuedPolling(n = 100, runs = 10): Promise<void> {
  const before = await pace(n, 1000);
  const after = await pace(n, 10_000);

  const c = await benchCluster();
  try {
    const refs: { jobId: string; sessionId: string; user: string }[] = [];
    const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
    let oldRows = NaN;
    let newRows = NaN;
    if (c.slurm) {
      for (let i = 0; i < n; i++) {
        const r = await c.slurm.run(['sbatch', '--parsable', '--begin=now+3600', '--output=/dev/null', `--job-name=bench-queued-${i}`, '--wrap=true']);
        let id = 's-';
        for (let k = 0, x = i; k < 26; k++, x = Math.floor(x / 32)) id += alphabet[x % 32];
        refs.push({ jobId: r.stdout.trim().split(';')[0]!, sessionId: id, user: 'hpcbridge-svc' });
      }
      const ids = refs.map((r) => r.jobId).join(',');
      const count = (s: string) => s.split('\n').filter((l) => l.trim()).length;
      oldRows = count((await c.slurm.run(['squeue', '--noheader', '--states=all', `--format=${SQUEUE_FORMAT}`])).stdout);
      newRows =
        count((await c.slurm.run(['squeue', '--noheader', '--states=all', `--format=${SQUEUE_FORMAT}`, `--jobs=${ids}`])).stdout) +
        count((await c.slurm.run(['squeue', '--noheader', '--states=PENDING', `--format=${SQUEUE_FORMAT}`, '--partition=debug'])).stdout);
    } else {
      for (let i = 0; i < n; i++) refs.push({ jobId: `f-${900000 + i}`, sessionId: `s-${'a'.repeat(25)}${alphabet[i % 32]}`, user: 'hpcbridge-svc' });
    }
    await c.client.jobState(refs); // warm the page cache
    const walls: number[] = [];
    const cpu0 = childCpuMs();
    let positions = 0;
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const report = await c.client.jobState(refs);
      walls.push(performance.now() - t0);
      positions = Object.values(report.jobs).filter((j) => j.position !== null).length;
    }
    const cpuPerCall = (childCpuMs() - cpu0) / runs;
    walls.sort((a, b) => a - b);
    if (c.slurm) await c.slurm.run(['scancel', ...refs.map((r) => r.jobId)]);

    console.log(`\nWaiting in the queue: ${n} queued sessions (${c.slurm ? `real Slurm, ${n} pending jobs held back with --begin` : 'fork scheduler: no queue here, cost per call only'})`);
    console.log(table([
      ['', 'jobstate calls / min', 'jobs named / min', 'hub CPU ms / call', 'jobstate wall p50 ms', 'hub CPU s / min', 'squeue rows read / call'],
      ['before (queued polled at the starting pace, 1 s)', before.callsPerMin.toFixed(1), before.jobsPerMin.toFixed(0), cpuPerCall.toFixed(0), percentile(walls, 50).toFixed(0), ((before.callsPerMin * cpuPerCall) / 1000).toFixed(1), Number.isNaN(oldRows) ? 'n/a' : `${oldRows} (whole queue)`],
      ['after (status.queuedIntervalSeconds 10)', after.callsPerMin.toFixed(1), after.jobsPerMin.toFixed(0), cpuPerCall.toFixed(0), percentile(walls, 50).toFixed(0), ((after.callsPerMin * cpuPerCall) / 1000).toFixed(1), Number.isNaN(newRows) ? 'n/a' : `${newRows} (ours + pending in debug)`],
      ['ratio before / after', `${(before.callsPerMin / after.callsPerMin).toFixed(1)}x`, '', '', '', `${(before.callsPerMin / after.callsPerMin).toFixed(1)}x`, ''],
    ]));
    console.log(`(CPU per call is the same hpc-wrap process both ways — mostly Node start-up; it reported a queue position for ${positions}/${n} jobs. The pace is the real poller on a fake clock.)`);
  } finally {
    await c.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await queuedPolling();
