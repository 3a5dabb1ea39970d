// The tunnel endpoint under many agents, each side in its own process (the endpoint as in
// the bridge, the agents as TunnelClients of hpc-wrap's start-env, two processes of them):
//  1. 1,000 idle tunnels + 50 active ones: the endpoint's RSS and CPU, and the latency of a
//     small GET through one tunnel, beside the same GET while it is the only tunnel;
//  2. a reconnect storm: the time until 200 agents are all back after the endpoint restarts
//     (a crash: SIGKILL), beside the same 200 agents against a system sshd (the harness's
//     config, keys with permitlisten in authorized_keys) whose processes are killed the same way.
// Needs root for the sshd baseline. Not a test: figures side by side, nothing passes or fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, get } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { authorizeKey, ensureUser, freePort, run, startSshd, waitFor, type Sshd } from '../system/harness/index.js';
import { REPO } from '../system/tunnel-fixture.js';
import { percentile, table } from './bench-cluster.js';
import { cpuMs, rssMiB, startLineProc, type LineProc } from './tunnel-bench-procs.js';
import type { BenchGrant } from './tunnel-endpoint-host.js';

const BENCH_USER = 'hpcbridge-bench';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function getOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = get({ host: '127.0.0.1', port, path: '/hello', agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now() - t0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function latencies(port: number, n: number): Promise<number[]> {
  for (let i = 0; i < 20; i++) await getOnce(port);
  const t: number[] = [];
  for (let i = 0; i < n; i++) t.push(await getOnce(port));
  return t.sort((a, b) => a - b);
}

/** `count` loops, each a GET through its port every `everyMs`, until stopped; returns the request count. */
function activeLoad(ports: number[], everyMs: number): { stop(): Promise<number> } {
  let stopped = false;
  let done = 0;
  const loops = ports.map(async (p) => {
    while (!stopped) {
      await getOnce(p).then(() => done++, () => {});
      await sleep(everyMs);
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return done;
    },
  };
}

async function waitAllUp(ask: () => Promise<number>, total: number, timeoutMs: number): Promise<void> {
  await waitFor(async () => (await ask()) >= total, { timeoutMs, intervalMs: 50, onTimeout: () => `not all ${total} tunnels came up within ${timeoutMs / 1000} s` });
}

const mib = (x: number) => x.toFixed(0);

export async function tunnelScale(opts: { idle?: number; active?: number; activeEveryMs?: number; storm?: number; samples?: number } = {}): Promise<void> {
  const idle = opts.idle ?? 1000;
  const active = opts.active ?? 50;
  const activeEveryMs = opts.activeEveryMs ?? 100;
  const storm = opts.storm ?? 200;
  const samples = opts.samples ?? 300;
  const dir = mkdtempSync('/tmp/hpcb-tscale-');
  const procs: LineProc[] = [];
  let node: ChildProcess | null = null;
  let sshd: Sshd | null = null;
  const load = loadavg()[0]!;
  try {
    // the notebook stand-in all agents relay to
    const nodePort = await freePort();
    node = spawn(process.execPath, [join(REPO, 'test/fixtures/tunnel-node-server.mjs')], { env: { ...process.env, JUPYTERHUB_SERVICE_URL: `http://127.0.0.1:${nodePort}/` }, stdio: 'ignore' });
    await waitFor(() => getOnce(nodePort).then(() => true, () => false), { timeoutMs: 10_000 });
    const api = createServer((_q, r) => r.end('api'));
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    const apiPort = (api.address() as { port: number }).port;

    // ---- 1. 1,000 idle + 50 active -----------------------------------------------------
    const base = 20000 + Math.floor(Math.random() * 10000); // below the ephemeral range (32768-): no clash with client ports
    const eDir = join(dir, 'endpoint');
    mkdirSync(eDir, { mode: 0o700 });
    const listenPort = await freePort();
    const endpoint = await startLineProc('tunnel-endpoint-host.ts', { dir: eDir, listenPort, apiPort, ports: { start: base, end: base + idle + 99 }, sessions: idle });
    procs.push(endpoint);
    const grantsFile = join(eDir, 'grants.json');
    const grants = JSON.parse(readFileSync(grantsFile, 'utf8')) as BenchGrant[];
    const up = async () => (await endpoint.ask<{ up: number }>('stats')).up;

    // A: tunnel 0 alone
    const one = await startLineProc('tunnel-agents-host.ts', { grantsFile, from: 0, count: 1, targetPort: nodePort });
    procs.push(one);
    await waitAllUp(up, 1, 30_000);
    const rssAlone = rssMiB(endpoint.pid);
    const latAlone = await latencies(grants[0]!.grant.remotePort, samples);

    // B: the other 999 connect, all at once, from two agent processes (two "nodes")
    const half = Math.ceil((idle - 1) / 2);
    const t0 = Date.now();
    for (const [from, count] of [[1, half], [1 + half, idle - 1 - half]] as const) {
      const h = await startLineProc('tunnel-agents-host.ts', { grantsFile, from, count, targetPort: nodePort });
      procs.push(h);
    }
    await waitAllUp(up, idle, 300_000);
    const allUpMs = Date.now() - t0;
    await sleep(3_000); // settle
    const idleCpu0 = cpuMs(endpoint.pid);
    await sleep(10_000);
    const idleCpuPct = (cpuMs(endpoint.pid) - idleCpu0) / 100; // ms per 10 s → %
    const rssIdle = rssMiB(endpoint.pid);
    const latIdle = await latencies(grants[0]!.grant.remotePort, samples);

    // C: 50 of them active (a GET every 100 ms each) while tunnel 0 is measured
    const loadGen = activeLoad(grants.slice(1, 1 + active).map((g) => g.grant.remotePort), activeEveryMs);
    await sleep(2_000);
    const c0 = cpuMs(endpoint.pid);
    const tc = Date.now();
    const latActive = await latencies(grants[0]!.grant.remotePort, samples);
    const activeCpuPct = ((cpuMs(endpoint.pid) - c0) / (Date.now() - tc)) * 100;
    const requests = await loadGen.stop();
    const rssActive = rssMiB(endpoint.pid);
    const stats = await endpoint.ask('stats');
    for (const p of procs.splice(0)) await p.stop();

    const ms = (xs: number[], p: number) => percentile(xs, p).toFixed(2);
    console.log(`\nTunnel endpoint with ${idle} tunnels (${cpus().length} CPUs shared with the agents and the load generator; load average ${load.toFixed(2)} at the start)`);
    console.log(`all ${idle} agents (two processes) connected at once: all up after ${(allUpMs / 1000).toFixed(1)} s; ${requests} GETs by the ${active} active tunnels; endpoint stats ${JSON.stringify(stats)}`);
    console.log(
      table([
        ['', 'endpoint RSS MiB', 'endpoint CPU %', 'GET p50 ms (tunnel 0)', 'GET p99 ms (tunnel 0)'],
        ['tunnel 0 alone (1 connected)', mib(rssAlone), '-', ms(latAlone, 50), ms(latAlone, 99)],
        [`${idle} connected, idle`, mib(rssIdle), idleCpuPct.toFixed(1), ms(latIdle, 50), ms(latIdle, 99)],
        [`${idle} connected, ${active} active (a GET every ${activeEveryMs} ms each)`, mib(rssActive), activeCpuPct.toFixed(1), ms(latActive, 50), ms(latActive, 99)],
        ['ratio idle / alone', (rssIdle / rssAlone).toFixed(2), '', (percentile(latIdle, 50) / percentile(latAlone, 50)).toFixed(2), (percentile(latIdle, 99) / percentile(latAlone, 99)).toFixed(2)],
        ['ratio active / alone', (rssActive / rssAlone).toFixed(2), '', (percentile(latActive, 50) / percentile(latAlone, 50)).toFixed(2), (percentile(latActive, 99) / percentile(latAlone, 99)).toFixed(2)],
      ]),
    );
    console.log(`memory per connected tunnel: ${(((rssIdle - rssAlone) * 1024) / (idle - 1)).toFixed(0)} KiB`);

    // ---- 2. reconnect storm ------------------------------------------------------------
    const sDir = join(dir, 'storm');
    mkdirSync(sDir, { mode: 0o700 });
    const sListen = await freePort();
    const sBase = 20000 + Math.floor(Math.random() * 10000);
    const sOpts = { dir: sDir, listenPort: sListen, apiPort, ports: { start: sBase, end: sBase + storm + 49 }, sessions: storm };
    let ep = await startLineProc('tunnel-endpoint-host.ts', sOpts);
    const sGrantsFile = join(sDir, 'grants.json');
    const agents = await startLineProc('tunnel-agents-host.ts', { grantsFile: sGrantsFile, from: 0, count: storm, targetPort: nodePort });
    const tCold = Date.now(); // its agents have just started connecting
    procs.push(agents);
    const agentsUp = async () => (await agents.ask<{ up: number }>('stats')).up;
    await waitAllUp(agentsUp, storm, 120_000);
    const coldMs = Date.now() - tCold;
    await ep.kill(); // a crash
    await waitFor(async () => (await agentsUp()) === 0, { timeoutMs: 30_000, intervalMs: 20 });
    const tRestart = Date.now();
    ep = await startLineProc('tunnel-endpoint-host.ts', sOpts); // restores from the grants file, same host key
    procs.push(ep);
    const listeningMs = Date.now() - tRestart;
    await waitAllUp(agentsUp, storm, 120_000);
    const stormMs = Date.now() - tRestart;
    for (const p of procs.splice(0)) await p.stop();

    // the same agents against a system sshd, restarted the same way
    let sshdMs: number | null = null;
    let sshdCold: number | null = null;
    if (process.getuid?.() === 0) {
      await ensureUser(BENCH_USER);
      const sGrants = JSON.parse(readFileSync(sGrantsFile, 'utf8')) as BenchGrant[];
      await authorizeKey(BENCH_USER, ...sGrants.map((g) => `restrict,port-forwarding,permitlisten="127.0.0.1:${g.grant.remotePort}" ${g.grant.publicKey}`));
      sshd = await startSshd({ dir: join(dir, 'sshd') });
      const override = { port: sshd.port, user: BENCH_USER, hostKeys: [sshd.knownHostsLine()] };
      const viaSshd = await startLineProc('tunnel-agents-host.ts', { grantsFile: sGrantsFile, from: 0, count: storm, targetPort: nodePort, override });
      const t1 = Date.now();
      procs.push(viaSshd);
      const sshdUp = async () => (await viaSshd.ask<{ up: number }>('stats')).up;
      await waitAllUp(sshdUp, storm, 300_000);
      sshdCold = Date.now() - t1;
      const port = sshd.port;
      // a crash: the listener first (no new connections), then every process holding a connection on its port
      process.kill(sshd.pid, 'SIGKILL');
      for (let i = 0; i < 3; i++) {
        const ss = await run(['ss', '-tnpH', 'state', 'established', `( sport = :${port} )`]);
        for (const m of ss.stdout.matchAll(/pid=(\d+)/g)) {
          try {
            process.kill(Number(m[1]), 'SIGKILL');
          } catch {
            /* gone */
          }
        }
        await sleep(200);
      }
      await sshd.stop();
      await waitFor(async () => (await sshdUp()) === 0, { timeoutMs: 60_000, intervalMs: 50 });
      const t2 = Date.now();
      sshd = await startSshd({ dir: join(dir, 'sshd'), port });
      await waitAllUp(sshdUp, storm, 300_000);
      sshdMs = Date.now() - t2;
      for (const p of procs.splice(0)) await p.stop();
    }
    console.log(`\nReconnect storm: ${storm} agents (one process, backoff 250 ms doubling to 5 s, ±25% jitter)`);
    console.log(
      table([
        ['', 'first connect, all at once (s)', 'restart (crash): listening again → all back (s)'],
        ['bridge endpoint', (coldMs / 1000).toFixed(1), `${((stormMs - listeningMs) / 1000).toFixed(1)} (+ ${(listeningMs / 1000).toFixed(1)} s process start to listening)`],
        ['system sshd (OpenSSH, the test harness config: MaxStartups 50:30:100)', sshdCold === null ? 'skipped (needs root)' : (sshdCold / 1000).toFixed(1), sshdMs === null ? '-' : (sshdMs / 1000).toFixed(1)],
        ['ratio endpoint / sshd', sshdCold === null ? '-' : (coldMs / sshdCold).toFixed(2), sshdMs === null ? '-' : ((stormMs - listeningMs) / sshdMs).toFixed(2)],
      ]),
    );
    await new Promise((r) => api.close(r));
  } finally {
    for (const p of procs) await p.stop().catch(() => {});
    node?.kill('SIGTERM');
    await sshd?.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await tunnelScale();
