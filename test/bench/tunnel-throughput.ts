// The notebook tunnel's data path: a 200 MB download served on the "node" and fetched on
// the "hub" side through
//   (a) the project's tunnel: the job's agent (start-env from the built hpc-wrap bundle,
//       pure JS) → the bridge's SSH endpoint (its own process) → 127.0.0.1:P;
//   (b) OpenSSH `ssh -R` → a real sshd (the baseline), with the same cipher and with its
//       default one;
//   (c) OpenSSH `ssh -R` with the job key → the bridge's endpoint (the endpoint alone);
// plus the latency of small GETs (a new TCP connection each, i.e. one forwarded channel per
// request). Needs root (sshd, accounts). Not a test: figures side by side, nothing passes or fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { authorizeKey, ensureUser, freePort, freePorts, makeClientKey, run, startSshd, terminate, waitFor, type Sshd } from '../system/harness/index.js';
import { agentReady, httpGet, REPO, startAgent, type Agent } from '../system/tunnel-fixture.js';
import { percentile, table } from './bench-cluster.js';
import { cpuMs, startLineProc, type LineProc } from './tunnel-bench-procs.js';
import type { BenchGrant } from './tunnel-endpoint-host.js';

const BENCH_USER = 'hpcbridge-bench';
const CIPHER = 'aes128-gcm@openssh.com';
const BYTES = 200 * 1024 * 1024;

/** One download: MB/s and the CPU ms per 100 MB of the given processes. */
async function download(port: number, pids: (number | undefined)[] = []): Promise<{ mbs: number; cpuPer100: number[] }> {
  const c0 = pids.map(cpuMs);
  const r = await run(['curl', '-sS', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', `http://127.0.0.1:${port}/bytes/${BYTES}`], { timeoutMs: 300_000 });
  const [size, secs] = r.stdout.trim().split(' ').map(Number);
  if (r.code !== 0 || size !== BYTES) throw new Error(`download through :${port} failed (${r.code}, ${size} bytes): ${r.stderr}`);
  return { mbs: BYTES / 1e6 / secs!, cpuPer100: pids.map((p, i) => ((cpuMs(p) - c0[i]!) * 100e6) / BYTES) };
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
  const dir = mkdtempSync('/tmp/hpcb-tbench-');
  let sshd: Sshd | null = null;
  let endpoint: LineProc | null = null;
  let agent: Agent | null = null;
  const ssh: ChildProcess[] = [];
  const api = createServer((req, res) => res.end(`hub-api ${req.url}`));
  const load = loadavg()[0]!;
  try {
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    const apiPort = (api.address() as { port: number }).port;
    const listenPort = await freePort();
    const base = 30000 + Math.floor(Math.random() * 25000);
    mkdirSync(join(dir, 'endpoint'), { mode: 0o700 });
    endpoint = await startLineProc('tunnel-endpoint-host.ts', { dir: join(dir, 'endpoint'), listenPort, apiPort, ports: { start: base, end: base + 9 }, sessions: 2 });
    const grants = JSON.parse(readFileSync(join(dir, 'endpoint/grants.json'), 'utf8')) as BenchGrant[];
    const [viaAgentGrant, viaOpensshGrant] = grants as [BenchGrant, BenchGrant];
    const hostKeyLine = viaAgentGrant.grant.hostKeys[0]!;

    // (a) the job's agent, from the bundle alone in a directory without node_modules
    mkdirSync(join(dir, 'node/bin'), { recursive: true });
    const bundle = join(dir, 'node/bin/hpc-wrap.mjs');
    copyFileSync(join(REPO, 'dist/hpc-wrap.mjs'), bundle);
    agent = startAgent({ workDir: join(dir, 'node/work'), bundle, sshPort: listenPort, hostKeys: [hostKeyLine], privateKey: viaAgentGrant.grant.privateKey, remotePort: viaAgentGrant.grant.remotePort, hubApiPort: apiPort, keepaliveIntervalSeconds: 15 });
    await agentReady(agent);
    const nodePort = agent.status()!.port as number;
    const agentPort = viaAgentGrant.grant.remotePort;
    const agentCipher = /"cipher":"([^"]+)"/.exec(readFileSync(join(dir, 'node/work/hpc-wrap.log'), 'utf8'))?.[1] ?? '?';

    // (b) OpenSSH `ssh -R` to a real sshd, as an ordinary account, same node server
    sshd = await startSshd({ dir: join(dir, 'sshd') });
    await ensureUser(BENCH_USER);
    const [opensshPort, defaultPort] = (await freePorts(2)) as [number, number];
    const client = await makeClientKey(join(dir, 'bench_key'), 'tunnel-bench');
    await authorizeKey(BENCH_USER, `restrict,port-forwarding,permitlisten="127.0.0.1:${opensshPort}",permitlisten="127.0.0.1:${defaultPort}" ${client.publicKey}`);
    const knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, `${sshd.knownHostsLine()}\n${hostKeyLine}\n`);
    const jobKeyFile = join(dir, 'job_key');
    writeFileSync(jobKeyFile, viaOpensshGrant.grant.privateKey, { mode: 0o600 });
    const startSsh = async (o: { port: number; serverPort: number; user: string; key: string; cipher: string | null }) => {
      const child = spawn(
        'ssh',
        ['-F', '/dev/null', '-N', '-T', '-i', o.key, '-p', String(o.serverPort), ...(o.cipher ? ['-o', `Ciphers=${o.cipher}`] : []), '-o', 'BatchMode=yes', '-o', 'ExitOnForwardFailure=yes',
          '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-R', `127.0.0.1:${o.port}:127.0.0.1:${nodePort}`, `${o.user}@127.0.0.1`],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let sshErr = '';
      child.stderr!.on('data', (d) => (sshErr += String(d)));
      ssh.push(child);
      await waitFor(async () => (await httpGet(o.port, '/hello', 1_000).catch(() => null))?.body === 'node-ok', { timeoutMs: 15_000, onTimeout: () => `ssh -R did not come up: ${sshErr}` });
      return child;
    };
    const viaOpenssh = await startSsh({ port: opensshPort, serverPort: sshd.port, user: BENCH_USER, key: client.privateKeyFile, cipher: CIPHER });
    await startSsh({ port: defaultPort, serverPort: sshd.port, user: BENCH_USER, key: client.privateKeyFile, cipher: null });
    // (c) OpenSSH's client with the second job key against the bridge's endpoint
    const opensshToEndpointPort = viaOpensshGrant.grant.remotePort;
    const toEndpoint = await startSsh({ port: opensshToEndpointPort, serverPort: listenPort, user: 'tunnelbot', key: jobKeyFile, cipher: CIPHER });

    const r = { direct: [] as number[], agent: [] as number[], openssh: [] as number[], opensshDefault: [] as number[], opensshToEndpoint: [] as number[] };
    const cpu = { agent: [] as number[], endpoint: [] as number[], sshClient: [] as number[], sshd: [] as number[], endpointWithOpenssh: [] as number[] };
    await download(agentPort); // JIT warm-up of agent and endpoint, not counted
    for (let i = 0; i < rounds; i++) {
      r.direct.push((await download(nodePort)).mbs);
      const a = await download(agentPort, [agent.child.pid, endpoint.pid]);
      r.agent.push(a.mbs);
      cpu.agent.push(a.cpuPer100[0]!);
      cpu.endpoint.push(a.cpuPer100[1]!);
      const sshdPids = sshd.sessionProcesses().flatMap((p) => [p.pid, ...p.descendants]);
      const o = await download(opensshPort, [viaOpenssh.pid, ...sshdPids]);
      r.openssh.push(o.mbs);
      cpu.sshClient.push(o.cpuPer100[0]!);
      cpu.sshd.push(o.cpuPer100.slice(1).filter((x) => !Number.isNaN(x)).reduce((a, b) => a + b, 0));
      r.opensshDefault.push((await download(defaultPort)).mbs);
      const e = await download(opensshToEndpointPort, [toEndpoint.pid, endpoint.pid]);
      r.opensshToEndpoint.push(e.mbs);
      cpu.endpointWithOpenssh.push(e.cpuPer100[1]!);
    }
    const latAgent = await latencies(agentPort, requests);
    const latOpenssh = await latencies(opensshPort, requests);
    const latDirect = await latencies(nodePort, requests);

    const mb = (xs: number[]) => `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})`;
    const ms = (xs: number[], p: number) => percentile(xs, p).toFixed(2);
    console.log(`\nTunnel: ${BYTES / 1024 / 1024} MB download (${rounds} rounds, median (min-max) MB/s) and ${requests} small GETs, each on a new connection`);
    console.log(`agent cipher: ${agentCipher} (pure JS, no native binding: the hpc-wrap bundle); OpenSSH: ${CIPHER}; all on loopback`);
    console.log(`${cpus().length} CPUs shared by curl, the endpoint, sshd, the tunnel clients and the server; load average ${load.toFixed(2)} at the start`);
    console.log(
      table([
        ['path', 'MB/s', 'CPU ms/100 MB', 'GET p50 ms', 'GET p99 ms'],
        ['agent (start-env) → bridge endpoint', mb(r.agent), `agent ${median(cpu.agent).toFixed(0)}, endpoint ${median(cpu.endpoint).toFixed(0)}`, ms(latAgent, 50), ms(latAgent, 99)],
        ['OpenSSH ssh -R → sshd (same cipher)', mb(r.openssh), `ssh client ${median(cpu.sshClient).toFixed(0)}, sshd ${median(cpu.sshd).toFixed(0)}`, ms(latOpenssh, 50), ms(latOpenssh, 99)],
        ['OpenSSH ssh -R → sshd (its default cipher)', mb(r.opensshDefault), '-', '-', '-'],
        ['OpenSSH ssh -R → bridge endpoint (same cipher)', mb(r.opensshToEndpoint), `endpoint ${median(cpu.endpointWithOpenssh).toFixed(0)}`, '-', '-'],
        ['no tunnel (direct to the node server)', mb(r.direct), '-', ms(latDirect, 50), ms(latDirect, 99)],
        ['ratio agent→endpoint / OpenSSH→sshd, same cipher (goal >= 0.70)', (median(r.agent) / median(r.openssh)).toFixed(2), '', (percentile(latAgent, 50) / percentile(latOpenssh, 50)).toFixed(2), (percentile(latAgent, 99) / percentile(latOpenssh, 99)).toFixed(2)],
        ['ratio agent→endpoint / OpenSSH→sshd, default cipher', (median(r.agent) / median(r.opensshDefault)).toFixed(2), '', '', ''],
        ['ratio OpenSSH→endpoint / OpenSSH→sshd, same cipher', (median(r.opensshToEndpoint) / median(r.openssh)).toFixed(2), '', '', ''],
      ]),
    );
  } finally {
    for (const c of ssh) if (c.pid && c.exitCode === null) await terminate(c.pid, 2_000).catch(() => {});
    await agent?.stop();
    await endpoint?.stop();
    await sshd?.stop();
    await new Promise((r) => api.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await tunnelThroughput();
