// Waiting in the queue beside other people's jobs (issue 10 point 5): 100 sessions whose jobs
// wait in a real Slurm queue, with 0 / 5,000 / 20,000 pending jobs of another account in the
// same partition. For each queue size, side by side:
//  - the bridge: one `jobstate` for the 100 through the long-lived hpc-wrap agent (what the
//    poller sends every status.queuedIntervalSeconds, default 10 s, while sessions wait): its
//    wall time, the CPU of the hub side (this process: request + parsing the answer) and of the
//    agent on the login node, and slurmctld's time for the job-info RPCs it made (sdiag);
//  - batchspawner's model: one `squeue -h -j ID -o '%T %B'` per session per poll, while a
//    spawn waits every `startup_poll_interval` (0.5 s): one poll of the 100 measured the same
//    way (CPU of the squeue processes on the hub host, slurmctld time).
// Per-minute figures are the per-call figures times the calls each makes per minute.
//   node --import tsx test/bench/foreign-jobs.ts [--sizes 0,5000,20000] [--sessions 100]
// As root with Slurm installed (the system test packages). Not a test: figures only.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { AgentClient } from '../../hub-bridge/cluster/agent-client.js';
import { HpcWrapClient } from '../../hub-bridge/cluster/hpc-wrap-client.js';
import { LocalTransport } from '../../hub-bridge/transport/local-transport.js';
import { ensureUser, startSlurm, type SlurmCluster } from '../system/harness/index.js';
import { percentile, REPO, SERVICE_ACCOUNT, silentLog, table } from './bench-cluster.js';

const { values: args } = parseArgs({ options: { sizes: { type: 'string', default: '0,5000,20000' }, sessions: { type: 'string', default: '100' }, runs: { type: 'string', default: '10' } } });
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const TICK_MS = 10; // USER_HZ 100 on Linux

/** Job-info RPCs slurmctld served and the microseconds it spent on them, since its last reset. */
async function controllerTime(slurm: SlurmCluster): Promise<{ count: number; us: number }> {
  const r = await slurm.run(['sdiag']);
  let count = 0;
  let us = 0;
  for (const m of r.stdout.matchAll(/^\s*REQUEST_JOB_INFO\w*\s+\(\s*\d+\)\s+count:(\d+)\s+ave_time:\d+\s+total_time:(\d+)/gm)) {
    count += Number(m[1]);
    us += Number(m[2]);
  }
  return { count, us };
}

/** CPU ms (utime + stime) of one process, its reaped children included. */
function procCpuMs(pid: number): number {
  const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * TICK_MS;
}

/** CPU ms of this process's reaped children (cutime + cstime). */
function childrenCpuMs(): number {
  const raw = readFileSync('/proc/self/stat', 'utf8');
  const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) * TICK_MS;
}

/** CPU ms of every process whose command line contains `needle` (the agent runs under runuser). */
function cpuOfMatching(needle: string): number {
  let total = 0;
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(needle)) total += procCpuMs(Number(e));
    } catch {
      /* gone */
    }
  }
  return total;
}

/** Runs argv and resolves when it exits (no shell). */
function exec(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => execFile(argv[0]!, argv.slice(1), { env }, (err) => (err ? reject(err) : resolve())));
}

/** Submits `n` more held jobs as root (another account than the service account), `par` at once. */
async function addForeignJobs(slurm: SlurmCluster, n: number, par = 6): Promise<void> {
  const env = slurm.fullEnv();
  let next = 0;
  await Promise.all(
    Array.from({ length: par }, async () => {
      while (next < n) {
        next++;
        await exec(['sbatch', '--quiet', '--hold', '--output=/dev/null', '--job-name=foreign', '--wrap=true'], env);
      }
    }),
  );
}

export async function foreignJobs(): Promise<void> {
  const sizes = args.sizes!.split(',').map(Number);
  const n = Number(args.sessions);
  const runs = Number(args.runs);
  const dir = mkdtempSync('/tmp/hpcb-bench-foreign-');
  chmodSync(dir, 0o755);
  const svc = await ensureUser(SERVICE_ACCOUNT);
  const slurm = await startSlurm({ dir: join(dir, 'slurm'), extraConf: [`MaxJobCount=${Math.max(...sizes) + n + 10_000}`] });
  const workDir = join(dir, 'hpc');
  mkdirSync(workDir, { mode: 0o755 });
  chownSync(workDir, svc.uid, svc.gid);
  const bin = join(dir, 'hpc-wrap.mjs');
  copyFileSync(join(REPO, 'dist/hpc-wrap.mjs'), bin);
  chmodSync(bin, 0o755);
  const cfg = join(dir, 'hpc-wrap.yaml');
  writeFileSync(cfg, stringify({ workDir, scheduler: { kind: 'slurm', env: slurm.env } }));
  const transport = new LocalTransport({ runAs: SERVICE_ACCOUNT });
  const hpcWrap = [process.execPath, bin, '--config', cfg];
  const agent = new AgentClient(transport, { hpcWrap, version: VERSION, log: silentLog, startTimeoutMs: 30_000 });
  const client = new HpcWrapClient(transport, hpcWrap, 120_000, agent);
  const rows: string[][] = [[
    'foreign pending jobs', 'bridge: jobstate wall p50 ms', 'bridge: hub CPU ms / call', 'bridge: agent CPU ms / call', 'bridge: slurmctld ms / call',
    'bridge: hub CPU s / min', 'bridge: slurmctld s / min', `batchspawner: one poll of the ${n}, wall ms`, 'batchspawner: hub CPU s / min', 'batchspawner: slurmctld s / min', 'slurmctld ratio bridge / batchspawner',
  ]];
  const env = slurm.fullEnv();
  try {
    // our sessions' jobs: held back with --begin, so they wait (with positions) as queued sessions do
    const refs: { jobId: string; sessionId: string; user: string }[] = [];
    const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
    for (let i = 0; i < n; i++) {
      const r = await slurm.run(['sbatch', '--parsable', '--begin=now+3600', '--output=/dev/null', `--job-name=bench-queued-${i}`, '--wrap=true'], { user: SERVICE_ACCOUNT });
      let id = 's-';
      for (let k = 0, x = i; k < 26; k++, x = Math.floor(x / 32)) id += alphabet[x % 32];
      refs.push({ jobId: r.stdout.trim().split(';')[0]!, sessionId: id, user: SERVICE_ACCOUNT });
    }
    await agent.start();
    if (!agent.isUp) throw new Error(`the hpc-wrap agent did not start: ${agent.refusal}`);
    const agentNeedle = `${bin}\0--config\0${cfg}\0agent`;
    let foreign = 0;
    for (const size of sizes) {
      const t0 = Date.now();
      await addForeignJobs(slurm, size - foreign);
      foreign = size;
      console.log(`${size} foreign pending jobs in the queue (added in ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      await client.jobState(refs); // warm
      // the bridge
      const walls: number[] = [];
      const c0 = await controllerTime(slurm);
      const hub0 = process.cpuUsage();
      const ag0 = cpuOfMatching(agentNeedle);
      let positions = 0;
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        const report = await client.jobState(refs);
        walls.push(performance.now() - t);
        positions = Object.values(report.jobs).filter((j) => j.position !== null).length;
      }
      const hubUse = process.cpuUsage(hub0);
      const hubMs = (hubUse.user + hubUse.system) / 1000 / runs;
      const agentMs = (cpuOfMatching(agentNeedle) - ag0) / runs;
      const c1 = await controllerTime(slurm);
      const ctlMs = (c1.us - c0.us) / 1000 / runs;
      walls.sort((a, b) => a - b);
      // batchspawner's model: one squeue -j per session, measured over one poll of all n
      const b0 = childrenCpuMs();
      const bc0 = await controllerTime(slurm);
      const tb = performance.now();
      for (const r of refs) await exec(['squeue', '-h', '-j', r.jobId, '-o', '%T %B'], env);
      const pollWall = performance.now() - tb;
      const bc1 = await controllerTime(slurm);
      const bsHubMs = childrenCpuMs() - b0;
      const bsCtlMs = (bc1.us - bc0.us) / 1000;
      // per minute: the bridge asks every 10 s (6 calls); batchspawner polls every 0.5 s (120 polls of n)
      rows.push([
        String(size), percentile(walls, 50).toFixed(0), hubMs.toFixed(1), agentMs.toFixed(0), ctlMs.toFixed(1),
        ((6 * hubMs) / 1000).toFixed(3), ((6 * ctlMs) / 1000).toFixed(2), pollWall.toFixed(0), ((120 * bsHubMs) / 1000).toFixed(1), ((120 * bsCtlMs) / 1000).toFixed(1),
        `${((6 * ctlMs) / (120 * bsCtlMs)).toFixed(3)}`,
      ]);
      console.log(`  the bridge's jobstate reported a queue position for ${positions}/${n} sessions`);
    }
    console.log(`\nQueued sessions beside foreign jobs: ${n} queued sessions on a real Slurm (2 cores), one partition`);
    console.log(table(rows));
    console.log('(bridge: one jobstate per 10 s through the agent — status.queuedIntervalSeconds; batchspawner: squeue -j per session every 0.5 s while a spawn waits — its startup_poll_interval. Hub CPU of batchspawner = the squeue processes; of the bridge = this process, the agent counted apart as it runs on the login node.)');
  } finally {
    await agent.close().catch(() => {});
    await slurm.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await foreignJobs();
