// CPU and wall time per batchspawner query call, side by side in one run:
//  - ours: hub-bridge/batchspawner/hpc-bridge-query (bash speaking HTTP to the local bridge → its state)
//  - `ssh login squeue -h -j ID -o '%T %B'` (batchspawner's exec_prefix model over ssh)
//  - local `squeue -h -j ID -o '%T %B'`
// CPU is the hub host's: user+system time of the command and its children, read from
// /proc/self/stat (cutime, cstime) around a synchronous run. Target for ours: <= 15 ms.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { authorizeKey, ensureUser, makeClientKey, startSshd } from '../system/harness/index.js';
import { benchCluster, percentile, REPO, SERVICE_ACCOUNT, table } from './bench-cluster.js';
import { mkdtempSync } from 'node:fs';
import { writeConfigs } from '../support/bridge-fixture.js';
import { freePort } from '../system/harness/index.js';
import { startBridgeProcess } from '../system/bridge-process.js';

const TICKS = 100; // USER_HZ on Linux

function childCpuMs(): number {
  const f = readFileSync('/proc/self/stat', 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / TICKS; // cutime, cstime
}

function measure(argv: string[], runs: number, env?: NodeJS.ProcessEnv): { cpu: number; wallP50: number; wallP99: number; out: string } {
  const walls: number[] = [];
  let out = '';
  const cpu0 = childCpuMs();
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: env ?? process.env });
    walls.push(performance.now() - t0);
    out = (r.stdout || r.stderr || '').trim();
  }
  const cpu = (childCpuMs() - cpu0) / runs;
  walls.sort((a, b) => a - b);
  return { cpu, wallP50: percentile(walls, 50), wallP99: percentile(walls, 99), out };
}

/** `baseline`: another query helper (e.g. an earlier version's, from `git show REF:hub-bridge/batchspawner/hpc-bridge-query`), measured beside ours. */
export async function batchspawnerQuery(runs = 100, baseline: string | null = null): Promise<void> {
  // The bridge runs as its own process: the measured commands are then this process's only
  // children, and a synchronous run does not block the bridge.
  const dir = mkdtempSync('/tmp/hpc-bridge-bench-q-');
  const port = await freePort();
  const files = writeConfigs(dir, { listen: { host: '127.0.0.1', port } });
  const bridge = await startBridgeProcess({ config: files.bridgeConfig, port, tokenFile: join(dir, 'token') });
  const c = await benchCluster();
  const sshd = c.slurm ? await startSshd({ dir: join(c.dir, 'login-sshd') }) : null;
  try {
    // one session the query asks about
    const created = await bridge.api('POST', '/v1/sessions', { user: 'bench', env: { JUPYTERHUB_SERVICE_PREFIX: '/user/bench/' }, command: [process.execPath, join(REPO, 'test/fixtures/http-stand-in-server.mjs')] });
    const number = created.json.number as number;
    const header = join(dir, 'token.header');
    const rows: (string | number)[][] = [['query command', 'CPU ms/call (hub host)', 'wall p50 ms', 'wall p99 ms', 'output']];
    const ours = measure([join(REPO, 'hub-bridge/batchspawner/hpc-bridge-query'), bridge.url, header, String(number)], runs);
    rows.push(['hpc-bridge-query (bash, HTTP to the local bridge)', ours.cpu.toFixed(1), ours.wallP50.toFixed(1), ours.wallP99.toFixed(1), ours.out]);
    if (baseline) {
      const base = measure(['/bin/sh', baseline, bridge.url, header, String(number)], runs);
      rows.push([`baseline ${baseline}`, base.cpu.toFixed(1), base.wallP50.toFixed(1), base.wallP99.toFixed(1), base.out]);
    }
    if (c.slurm && sshd) {
      const jobId = (await c.slurm.run(['sbatch', '--parsable', '--wrap', 'sleep 300', '--output=/dev/null'], { user: SERVICE_ACCOUNT })).stdout.trim();
      await ensureUser(SERVICE_ACCOUNT);
      const key = await makeClientKey(join(c.dir, 'id_ed25519'));
      await authorizeKey(SERVICE_ACCOUNT, key.publicKey);
      const kh = join(c.dir, 'known_hosts');
      (await import('node:fs')).writeFileSync(kh, `${sshd.knownHostsLine()}\n`);
      const sshArgv = ['ssh', '-i', key.privateKeyFile, '-o', `UserKnownHostsFile=${kh}`, '-o', 'BatchMode=yes', '-p', String(sshd.port), `${SERVICE_ACCOUNT}@127.0.0.1`,
        `SLURM_CONF=${c.slurm.confPath} squeue -h -j ${jobId} -o '%T %B'`];
      const viaSsh = measure(sshArgv, Math.min(runs, 30));
      rows.push(["ssh login squeue -h -j ID -o '%T %B'", viaSsh.cpu.toFixed(1), viaSsh.wallP50.toFixed(1), viaSsh.wallP99.toFixed(1), viaSsh.out]);
      const local = measure(['squeue', '-h', '-j', jobId, '-o', '%T %B'], runs, c.slurm.fullEnv());
      rows.push(["squeue -h -j ID -o '%T %B' (local)", local.cpu.toFixed(1), local.wallP50.toFixed(1), local.wallP99.toFixed(1), local.out]);
      await c.slurm.run(['scancel', jobId], { user: SERVICE_ACCOUNT });
    } else {
      rows.push(['ssh/squeue columns', 'n/a (needs root and Slurm)', '', '', '']);
    }
    console.log(`\nbatchspawner query: CPU and wall time per call (${runs} calls each)`);
    console.log(table(rows));
  } finally {
    await sshd?.stop();
    await c.stop();
    for (const s of (await bridge.api('GET', '/v1/sessions?user=bench')).json.sessions as { id: string }[]) await bridge.api('DELETE', `/v1/sessions/${s.id}`);
    await new Promise((r) => setTimeout(r, 1500));
    await bridge.kill('SIGTERM');
  }
}

// node --import tsx test/bench/batchspawner-query.ts [--baseline FILE]
if (import.meta.url === `file://${process.argv[1]}`) await batchspawnerQuery(100, process.argv.includes('--baseline') ? process.argv[process.argv.indexOf('--baseline') + 1]! : null);
