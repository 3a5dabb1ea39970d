// The notebook tunnel's data path: a 200 MB download served on the "node" and fetched on
// the "hub" side through (a) the ssh2 agent's reverse forward (start-env from the built
// hpc-wrap bundle, as in a job) and (b) OpenSSH `ssh -R` to the same loopback sshd, both
// with aes128-gcm@openssh.com; plus the latency of small GETs (a new TCP connection each,
// i.e. one forwarded channel per request). Needs root (sshd, accounts). Not a test:
// figures side by side, nothing passes or fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { generateTunnelKey } from '../../hub-bridge/tunnel/tunnel-keys.js';
import { authorizeKey, ensureUser, freePorts, makeClientKey, run, terminate, waitFor } from '../system/harness/index.js';
import { agentReady, httpGet, keyEntry, REPO, startAgent, startHubHost, type Agent, type HubHost } from '../system/tunnel-fixture.js';
import { percentile, table } from './bench-cluster.js';

const BENCH_USER = 'hpcbridge-bench';
const CIPHER = 'aes128-gcm@openssh.com';
const BYTES = 200 * 1024 * 1024;

/** CPU time (user + system, ms) a process has used so far. */
function cpuMs(pid: number | undefined): number {
  if (!pid) return NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * (1000 / 100); // clock ticks (USER_HZ 100)
}

/** One download: MB/s and the CPU ms per 100 MB of the tunnel client process (`pid`). */
async function download(port: number, pid?: number): Promise<{ mbs: number; cpuPer100: number }> {
  const c0 = cpuMs(pid);
  const r = await run(['curl', '-sS', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', `http://127.0.0.1:${port}/bytes/${BYTES}`], { timeoutMs: 300_000 });
  const [size, secs] = r.stdout.trim().split(' ').map(Number);
  if (r.code !== 0 || size !== BYTES) throw new Error(`download through :${port} failed (${r.code}, ${size} bytes): ${r.stderr}`);
  return { mbs: BYTES / 1e6 / secs!, cpuPer100: ((cpuMs(pid) - c0) * 100e6) / BYTES };
}

async function latencies(port: number, n: number): Promise<number[]> {
  for (let i = 0; i < 20; i++) await httpGet(port, '/hello'); // warm-up
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await httpGet(port, '/hello');
    if (r.body !== 'node-ok') throw new Error(`unexpected answer through :${port}: ${r.body}`);
    t.push(performance.now() - t0);
  }
  return t.sort((a, b) => a - b);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function tunnelThroughput(rounds = 3, requests = 300): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('\ntunnel throughput: skipped (needs root for sshd and accounts)');
    return;
  }
  let hub: HubHost | null = null;
  let agent: Agent | null = null;
  let ssh: ChildProcess | null = null;
  let sshDefault: ChildProcess | null = null;
  const load = loadavg()[0]!;
  try {
    hub = await startHubHost({ variant: 'example' });
    const [agentPort, opensshPort, defaultPort] = (await freePorts(3)) as [number, number, number];
    const key = generateTunnelKey();
    hub.setKeys([keyEntry(key.publicKey, agentPort)]);
    const dir = join(hub.dir, 'node');
    mkdirSync(join(dir, 'bin'), { recursive: true });
    const bundle = join(dir, 'bin', 'hpc-wrap.mjs');
    copyFileSync(join(REPO, 'dist/hpc-wrap.mjs'), bundle);
    agent = startAgent({ workDir: join(dir, 'work'), bundle, sshPort: hub.sshd.port, hostKeys: [hub.sshd.knownHostsLine()], privateKey: key.privateKey, remotePort: agentPort, hubApiPort: hub.apiPort, keepaliveIntervalSeconds: 15 });
    await agentReady(agent);
    const nodePort = agent.status()!.port as number;
    const agentCipher = /"cipher":"([^"]+)"/.exec(readFileSync(join(dir, 'work', 'hpc-wrap.log'), 'utf8'))?.[1] ?? '?';

    // OpenSSH `ssh -R` to the same sshd and the same node server, as an ordinary account.
    await ensureUser(BENCH_USER);
    const client = await makeClientKey(join(hub.dir, 'bench_key'), 'tunnel-bench');
    await authorizeKey(BENCH_USER, `restrict,port-forwarding,permitlisten="127.0.0.1:${opensshPort}",permitlisten="127.0.0.1:${defaultPort}" ${client.publicKey}`);
    const knownHosts = join(hub.dir, 'known_hosts');
    writeFileSync(knownHosts, `${hub.sshd.knownHostsLine()}\n`);
    const startSsh = async (port: number, cipher: string | null) => {
      const child = spawn(
        'ssh',
        ['-N', '-T', '-i', client.privateKeyFile, '-p', String(hub!.sshd.port), ...(cipher ? ['-o', `Ciphers=${cipher}`] : []), '-o', 'BatchMode=yes', '-o', 'ExitOnForwardFailure=yes',
          '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-R', `127.0.0.1:${port}:127.0.0.1:${nodePort}`, `${BENCH_USER}@127.0.0.1`],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let sshErr = '';
      child.stderr!.on('data', (d) => (sshErr += String(d)));
      await waitFor(async () => (await httpGet(port, '/hello', 1_000).catch(() => null))?.body === 'node-ok', {
        timeoutMs: 15_000,
        onTimeout: () => `ssh -R did not come up: ${sshErr}`,
      });
      return child;
    };
    ssh = await startSsh(opensshPort, CIPHER);
    sshDefault = await startSsh(defaultPort, null);

    const direct: number[] = [];
    const viaAgent: number[] = [];
    const viaOpenssh: number[] = [];
    const cpuAgent: number[] = [];
    const cpuOpenssh: number[] = [];
    const viaDefault: number[] = [];
    await download(agentPort); // JIT warm-up of the agent, not counted
    for (let i = 0; i < rounds; i++) {
      direct.push((await download(nodePort)).mbs);
      const a = await download(agentPort, agent.child.pid);
      viaAgent.push(a.mbs);
      cpuAgent.push(a.cpuPer100);
      const o = await download(opensshPort, ssh.pid);
      viaOpenssh.push(o.mbs);
      cpuOpenssh.push(o.cpuPer100);
      viaDefault.push((await download(defaultPort)).mbs);
    }
    const latAgent = await latencies(agentPort, requests);
    const latOpenssh = await latencies(opensshPort, requests);
    const latDirect = await latencies(nodePort, requests);

    const mb = (xs: number[]) => `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})`;
    const ms = (xs: number[], p: number) => percentile(xs, p).toFixed(2);
    console.log(`\nTunnel: ${BYTES / 1024 / 1024} MB download (${rounds} rounds, median (min-max) MB/s) and ${requests} small GETs, each on a new connection`);
    console.log(`ssh2 agent cipher: ${agentCipher} (pure JS, no native binding: the hpc-wrap bundle); OpenSSH: ${CIPHER}; same sshd on loopback`);
    console.log(`${cpus().length} CPUs shared by curl, sshd, the tunnel client and the server; load average ${load.toFixed(2)} at the start`);
    console.log(
      table([
        ['', 'MB/s', 'client CPU ms/100 MB', 'GET p50 ms', 'GET p99 ms'],
        ['ssh2 agent (hpc-wrap start-env), reverse forward', mb(viaAgent), median(cpuAgent).toFixed(0), ms(latAgent, 50), ms(latAgent, 99)],
        ['OpenSSH ssh -R (same cipher)', mb(viaOpenssh), median(cpuOpenssh).toFixed(0), ms(latOpenssh, 50), ms(latOpenssh, 99)],
        ['OpenSSH ssh -R (its default cipher)', mb(viaDefault), '-', '-', '-'],
        ['no tunnel (direct to the node server)', mb(direct), '-', ms(latDirect, 50), ms(latDirect, 99)],
        [
          'ratio ssh2 / OpenSSH same cipher (target >= 0.70 for MB/s)',
          (median(viaAgent) / median(viaOpenssh)).toFixed(2),
          (median(cpuAgent) / median(cpuOpenssh)).toFixed(2),
          (percentile(latAgent, 50) / percentile(latOpenssh, 50)).toFixed(2),
          (percentile(latAgent, 99) / percentile(latOpenssh, 99)).toFixed(2),
        ],
        ['ratio ssh2 / OpenSSH default ssh -R', (median(viaAgent) / median(viaDefault)).toFixed(2), '', '', ''],
      ]),
    );
  } finally {
    for (const c of [ssh, sshDefault]) if (c?.pid && c.exitCode === null) await terminate(c.pid, 2_000).catch(() => {});
    await agent?.stop();
    await hub?.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await tunnelThroughput();
