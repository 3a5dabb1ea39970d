// Spawn latency, side by side on ONE real Slurm and Debian's JupyterHub 3 (issue 10):
//   A  stock batchspawner alone (SlurmSpawner, runuser + sbatch/squeue/scancel)
//   B  stock batchspawner over this bridge (its submit/query/cancel helpers)
//   C  this project's HpcBridgeSpawner
//   D  HpcBridgeSpawner with the login node reached over SSH (a real sshd, the pooled
//      transport) and each notebook through its restricted tunnel (the bridge's endpoint)
// For each: 1 user Start → ready; N users pressing Start at once → all ready (each user's
// time too); all N stopped at once → queue empty; job-info RPCs the controller served
// (sdiag); CPU on the hub host per spawn of the N (the hub's process tree, its proxy and the
// helpers it runs included, plus the bridge's; the jobs run under slurmd and hpc-wrap runs on
// the login node, neither is counted). Columns run interleaved per
// round; the ratios are against A of the same round (D also against C).
//
//   node --import tsx test/bench/spawn-latency.ts --batchspawner DIR [--users 10] [--rounds 1] [--columns ABCD]
//
// DIR: stock batchspawner installed with `pip install --no-deps --target DIR <its source>`
// (it is not on Debian and PyPI may be out of reach). As root, with the system test packages.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { execFileSync } from 'node:child_process';
import { authorizeKey, ensureUser, freePort, makeClientKey, startHub, startSlurm, startSshd, type Hub, type Sshd, type SlurmCluster } from '../system/harness/index.js';
import { startBridgeProcess, type BridgeProcess } from '../system/bridge-process.js';
import { REPO, SERVICE_ACCOUNT } from './bench-cluster.js';

type Column = 'A' | 'B' | 'C' | 'D';
const NAMES: Record<Column, string> = { A: 'stock batchspawner', B: 'batchspawner over the bridge', C: 'HpcBridgeSpawner', D: 'HpcBridgeSpawner, SSH + tunnel' };

interface Result {
  one: number;
  all: number;
  each: number[];
  stop: number;
  jobInfoRpcs: number;
  /** CPU ms on the hub host per spawn while N users started at once (hub tree + bridge tree). */
  cpuPerSpawn: number;
  /** Of which the bridge's tree (its login-node hpc-wrap left out). */
  bridgeCpuPerSpawn: number;
}

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim() || 100);

/**
 * CPU ms of a process and all its descendants, the children they reaped included, split in
 * two: the hub host's share, and the login node's (subtrees running hpc-wrap: with the local
 * transport the login node is this machine, so they hang under the bridge).
 */
function treeCpuMs(root: number | undefined): { hub: number; login: number } {
  const out = { hub: 0, login: 0 };
  if (root === undefined) return out;
  const stat = new Map<number, { ppid: number; ticks: number; wrap: boolean }>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const raw = readFileSync(`/proc/${e}/stat`, 'utf8');
      const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
      const wrap = readFileSync(`/proc/${e}/cmdline`, 'utf8').includes('hpc-wrap.mjs');
      // fields after the name, from state = 0: ppid 1, utime 11, stime 12, cutime 13, cstime 14
      stat.set(Number(e), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]), wrap });
    } catch {
      /* gone */
    }
  }
  const todo: [number, boolean][] = [[root, false]];
  while (todo.length) {
    const [pid, inLogin] = todo.pop()!;
    const me = stat.get(pid);
    const login = inLogin || Boolean(me?.wrap);
    out[login ? 'login' : 'hub'] += (me?.ticks ?? 0) * TICK_MS;
    for (const [p, v] of stat) if (v.ppid === pid) todo.push([p, login]);
  }
  return out;
}

/** Hub-host CPU ms now: the hub's tree (its proxy included) and the bridge's, login-node work left out. */
const hubHostCpuMs = (hub: Hub, bridge: BridgeProcess | null) => treeCpuMs(hub.pid).hub + treeCpuMs(bridge?.child.pid).hub;

const { values: args } = parseArgs({
  options: { batchspawner: { type: 'string' }, users: { type: 'string', default: '10' }, rounds: { type: 'string', default: '1' }, columns: { type: 'string', default: 'ABC' } },
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 300_000, everyMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return;
    await sleep(everyMs);
  }
  throw new Error(`timed out: ${what}`);
}

/** Job-info RPCs the controller served since the last reset (squeue/scontrol/sacct reads). */
async function jobInfoRpcs(slurm: SlurmCluster, reset = false): Promise<number> {
  const r = await slurm.run(['sdiag', ...(reset ? ['-r'] : [])]);
  if (reset) return 0;
  let n = 0;
  for (const m of r.stdout.matchAll(/^\s*(REQUEST_JOB_INFO\w*)\s+\(\s*\d+\)\s+count:(\d+)/gm)) n += Number(m[2]);
  return n;
}

/** The "login node" of column D: a real sshd, the service account's key, a pinned host key. */
async function sshLoginNode(dir: string): Promise<{ sshd: Sshd; transport: Record<string, unknown> }> {
  const sshd = await startSshd({ dir: join(dir, 'login-sshd') });
  const key = await makeClientKey(join(dir, 'login-key'));
  await authorizeKey(SERVICE_ACCOUNT, key.publicKey);
  const knownHostsFile = join(dir, 'login-known_hosts');
  writeFileSync(knownHostsFile, `${sshd.knownHostsLine()}\n`, { mode: 0o600 });
  return { sshd, transport: { kind: 'ssh', host: '127.0.0.1', port: sshd.port, user: SERVICE_ACCOUNT, identityFile: key.privateKeyFile, knownHostsFile } };
}

function hubConfig(col: Column, ctx: { dir: string; slurm: SlurmCluster; bs: string; bridgePort: number; tokenFile: string; hpcWrapConfig: string }): string[] {
  const common = ["c.Spawner.cmd = ['/usr/bin/jupyterhub-singleuser']", 'c.Spawner.start_timeout = 300', 'c.Spawner.http_timeout = 120', "c.JupyterHub.tornado_settings = {'slow_spawn_timeout': 0}"];
  if (col === 'C' || col === 'D') {
    return [
      "c.JupyterHub.spawner_class = 'hpc_bridge_spawner.HpcBridgeSpawner'",
      `c.HpcBridgeSpawner.bridge_url = 'http://127.0.0.1:${ctx.bridgePort}'`,
      `c.HpcBridgeSpawner.bridge_token_file = ${JSON.stringify(ctx.tokenFile)}`,
      ...common,
    ];
  }
  const lines = [
    'import batchspawner',
    "c.JupyterHub.spawner_class = 'batchspawner.SlurmSpawner'",
    "c.SlurmSpawner.req_runtime = '00:20:00'",
    "c.SlurmSpawner.req_memory = '256M'",
    `c.Spawner.environment = {'SLURM_CONF': ${JSON.stringify(ctx.slurm.env.SLURM_CONF)}}`,
    ...common,
  ];
  if (col === 'A') {
    lines.push(
      "c.SlurmSpawner.exec_prefix = 'runuser -u {username} --'",
      `c.SlurmSpawner.req_prologue = 'export PATH=${ctx.bs}/bin:/usr/bin:/bin PYTHONPATH=${ctx.bs}'`,
    );
  } else {
    const q = `${REPO}/hub-bridge/batchspawner`;
    lines.push(
      "c.SlurmSpawner.exec_prefix = ''",
      `c.SlurmSpawner.batch_submit_cmd = '/usr/bin/python3 -IS ${q}/hpc-bridge-submit --url http://127.0.0.1:${ctx.bridgePort} --token-file ${ctx.tokenFile}'`,
      `c.SlurmSpawner.batch_query_cmd = '${q}/hpc-bridge-query http://127.0.0.1:${ctx.bridgePort} ${ctx.tokenFile}.header {job_id}'`,
      `c.SlurmSpawner.batch_cancel_cmd = '${q}/hpc-bridge-cancel http://127.0.0.1:${ctx.bridgePort} ${ctx.tokenFile}.header {job_id}'`,
      // the file run as a program, as examples/jupyterhub_config.batchspawner.py says (its sh head → the Python launcher)
      `c.SlurmSpawner.batchspawner_singleuser_cmd = '${REPO}/dist/hpc-wrap.mjs batchspawner-singleuser --config ${ctx.hpcWrapConfig}'`,
    );
  }
  return lines;
}

async function runColumn(col: Column, users: string[], base: { dir: string; slurm: SlurmCluster; bs: string; hpcWrapConfig: string; sshTransport: Record<string, unknown> | null }): Promise<Result> {
  const dir = join(base.dir, `${col}-${Date.now()}`);
  mkdirSync(dir, { mode: 0o755 });
  mkdirSync(join(dir, 'bridge'), { mode: 0o700 });
  const bridgePort = await freePort();
  const tokenFile = join(dir, 'bridge/token');
  const hpcWrap = `/usr/bin/node ${REPO}/dist/hpc-wrap.mjs --config ${base.hpcWrapConfig}`;
  const tunnelPorts = 20000 + Math.floor(Math.random() * 9000); // below the ephemeral range
  const hub: Hub = await startHub({
    dir: join(dir, 'hub'),
    pythonPath: [base.bs, join(REPO, 'hub-bridge/jupyterhub')],
    env: base.slurm.env,
    spawnerClassConfig: hubConfig(col, { dir, slurm: base.slurm, bs: base.bs, bridgePort, tokenFile, hpcWrapConfig: base.hpcWrapConfig }).join('\n'),
    startTimeout: 300,
    httpTimeout: 120,
    pollInterval: 30,
  });
  let bridge: BridgeProcess | null = null;
  if (col !== 'A') {
    const cfg = join(dir, 'hub-bridge.yaml');
    writeFileSync(
      cfg,
      stringify({
        listen: { host: '127.0.0.1', port: bridgePort },
        apiTokenFile: tokenFile,
        stateDb: join(dir, 'bridge/bridge.sqlite'),
        cluster: { transport: col === 'D' ? base.sshTransport : { kind: 'local', runAs: SERVICE_ACCOUNT }, hpcWrap: hpcWrap.split(' '), commandTimeoutSeconds: 60 },
        status: { intervalSeconds: 5, startingIntervalSeconds: 1 },
        ...(col === 'D'
          ? {
              hubApiUrl: `http://127.0.0.1:${hub.ports.hub}/hub/api`,
              tunnel: { enabled: true, listen: { host: '127.0.0.1', port: await freePort() }, publicHost: '127.0.0.1', hostKeyFile: join(dir, 'bridge/tunnel-host-key') },
              ports: { start: tunnelPorts, end: tunnelPorts + 199 },
            }
          : {}),
        profiles: [{ name: 'small', displayName: 'Small', resources: { cpus: 1, memoryMB: 256, walltime: '00:20:00' } }],
      }),
    );
    bridge = await startBridgeProcess({ config: cfg, port: bridgePort, tokenFile }).catch(async (err: unknown) => {
      await hub.stop().catch(() => {});
      throw err;
    });
  }
  const ready = async (u: string) => Boolean((await hub.api('GET', `/users/${u}`)).json?.servers?.['']?.ready);
  const queueEmpty = async () => (await base.slurm.squeue()).length === 0;
  try {
    for (const u of users) await hub.api('POST', `/users/${u}`);
    // one user
    let t = Date.now();
    await hub.api('POST', `/users/${users[0]}/server`);
    await until(`${users[0]} ready`, () => ready(users[0]!));
    const one = Date.now() - t;
    await hub.api('DELETE', `/users/${users[0]}/server`);
    await until('queue empty', queueEmpty);
    await until(`${users[0]} stopped`, async () => !(await hub.api('GET', `/users/${users[0]}`)).json?.servers?.['']);
    await sleep(2000);
    // N users at once
    await jobInfoRpcs(base.slurm, true);
    const cpu0 = hubHostCpuMs(hub, bridge);
    const bridge0 = treeCpuMs(bridge?.child.pid).hub;
    t = Date.now();
    await Promise.all(users.map((u) => hub.api('POST', `/users/${u}/server`)));
    const each = await Promise.all(
      users.map(async (u) => {
        await until(`${u} ready`, () => ready(u));
        return Date.now() - t;
      }),
    );
    const all = Math.max(...each);
    const cpuPerSpawn = (hubHostCpuMs(hub, bridge) - cpu0) / users.length;
    const bridgeCpuPerSpawn = (treeCpuMs(bridge?.child.pid).hub - bridge0) / users.length;
    const rpcs = await jobInfoRpcs(base.slurm);
    // stop all at once
    t = Date.now();
    await Promise.all(users.map((u) => hub.api('DELETE', `/users/${u}/server`)));
    await until('queue empty', queueEmpty);
    const stop = Date.now() - t;
    return { one, all, each: each.sort((a, b) => a - b), stop, jobInfoRpcs: rpcs, cpuPerSpawn, bridgeCpuPerSpawn };
  } catch (err) {
    // what the bridge and the sessions said, before the directory goes
    if (bridge) {
      console.log(`--- ${col}: the bridge's log (last 80 lines)\n${bridge.log().trim().split('\n').slice(-80).join('\n')}`);
      const sessions = await bridge.api('GET', '/v1/sessions?limit=100').catch(() => null);
      for (const s of sessions?.json?.sessions ?? []) console.log(`--- ${s.user}: ${s.state} ${s.jobId ?? ''} tunnel=${JSON.stringify(s.tunnel ?? null)} ${s.message ?? ''}`);
    }
    throw err;
  } finally {
    await hub.stop().catch(() => {});
    await bridge?.kill('SIGTERM').catch(() => {});
    await base.slurm.run(['scancel', '--full', '--quiet', ...users.map((u) => `--user=${u}`)]).catch(() => {});
  }
}

export async function spawnLatency(): Promise<void> {
  if (!args.batchspawner) {
    console.log('spawn latency: skipped (give --batchspawner DIR: stock batchspawner installed with pip install --no-deps --target DIR)');
    return;
  }
  const n = Number(args.users);
  const dir = mkdtempSync('/tmp/hpcb-bench-spawn-');
  chmodSync(dir, 0o755);
  const svc = await ensureUser(SERVICE_ACCOUNT);
  const users = Array.from({ length: n }, (_, i) => `bench${String(i + 1).padStart(2, '0')}`);
  for (const u of users) await ensureUser(u);
  const slurm = await startSlurm({ dir: join(dir, 'slurm') });
  const workDir = join(dir, 'hpc');
  mkdirSync(workDir, { mode: 0o755 });
  chownSync(workDir, svc.uid, svc.gid);
  const hpcWrapConfig = join(dir, 'hpc-wrap.yaml');
  writeFileSync(hpcWrapConfig, stringify({ workDir, scheduler: { kind: 'slurm', env: slurm.env } }));
  const columns = [...args.columns!].filter((c): c is Column => c === 'A' || c === 'B' || c === 'C' || c === 'D');
  const login = columns.includes('D') ? await sshLoginNode(dir) : null;
  const base = { dir, slurm, bs: args.batchspawner, hpcWrapConfig, sshTransport: login?.transport ?? null };
  const results: Record<Column, Result[]> = { A: [], B: [], C: [], D: [] };
  try {
    for (let round = 0; round < Number(args.rounds); round++) {
      for (const col of columns) {
        const load = loadavg()[0]!.toFixed(1);
        const r = await runColumn(col, users, base);
        results[col].push(r);
        console.log(`round ${round + 1} ${col} (${NAMES[col]}, load ${load}): 1 user ${(r.one / 1000).toFixed(1)} s; ${n} users all ready ${(r.all / 1000).toFixed(1)} s [${r.each.map((x) => (x / 1000).toFixed(1)).join(' ')}]; stop ${n} ${(r.stop / 1000).toFixed(1)} s; job-info RPCs ${r.jobInfoRpcs}; hub-host CPU ${r.cpuPerSpawn.toFixed(0)} ms per spawn (bridge ${r.bridgeCpuPerSpawn.toFixed(0)} ms)`);
      }
    }
  } finally {
    await login?.sshd.stop().catch(() => {});
    await slurm.stop();
    if (process.env.KEEP_BENCH_DIR) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const m = (c: Column, k: 'one' | 'all' | 'stop' | 'cpuPerSpawn') => median(results[c].map((r) => r[k]));
  console.log(`\nspawn latency, median of ${args.rounds} round(s), ${n} users (ratio vs A; ≤ 1.0 is as fast or faster):`);
  console.log('column                          1 user      all ready     stop all   job-info RPCs  hub-host CPU/spawn');
  for (const c of columns) {
    const ratio = (k: 'one' | 'all' | 'stop' | 'cpuPerSpawn') => (c === 'A' || !results.A.length ? '' : ` (${(m(c, k) / m('A', k)).toFixed(2)}x)`);
    console.log(
      `${c} ${NAMES[c].padEnd(30)} ${(m(c, 'one') / 1000).toFixed(1).padStart(5)} s${ratio('one').padEnd(8)} ${(m(c, 'all') / 1000).toFixed(1).padStart(5)} s${ratio('all').padEnd(8)} ${(m(c, 'stop') / 1000).toFixed(1).padStart(5)} s${ratio('stop').padEnd(8)} ${String(median(results[c].map((r) => r.jobInfoRpcs))).padEnd(14)} ${m(c, 'cpuPerSpawn').toFixed(0)} ms${ratio('cpuPerSpawn')}`,
    );
  }
  if (results.C.length && results.D.length) {
    const r = (k: 'one' | 'all' | 'stop') => (m('D', k) / m('C', k)).toFixed(2);
    console.log(`D / C (SSH + tunnel vs local, goal ≤ 1.2): 1 user ${r('one')}x, all ready ${r('all')}x, stop all ${r('stop')}x`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await spawnLatency();
