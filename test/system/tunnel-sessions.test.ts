// Sessions through the tunnel, end to end on real components: the built bridge (its own
// process, its tunnel endpoint, local transport as the service account) → hpc-wrap → real
// Slurm → start-env's agent (through a relay that can cut or black-hole the network) → the
// notebook stand-in. An unprivileged local account squats the session's hub-side port the
// whole time: during the queue wait, during a reconnect, after a stop and across a bridge
// restart. It never binds it while the session lives, never receives a byte, and never
// makes a session ready. Tunnel loss shows in the session within 5 s; stopping a session
// cuts its connection within 1 s although its job still runs. `hpc-bridge try` passes
// through the same chain and says when the tunnel came up.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelay, type TcpRelay } from '../support/tcp-relay.js';
import { startBridgeProcess, type BridgeProcess } from './bridge-process.js';
import { ensureUser, freePort, startSlurm, waitFor, type SlurmCluster, type UserInfo } from './harness/index.js';
import { hubApiStandIn, REPO, startSquatter, type Squatter } from './tunnel-fixture.js';

const SERVICE_ACCOUNT = 'hpcbridge-svc';
const SQUAT_USER = 'hpcbridge-squat';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let slurm: SlurmCluster;
let svc: UserInfo;
let bridge: BridgeProcess;
let bridgeConfig: string;
let bridgePort: number;
let relay: TcpRelay;
let api: Awaited<ReturnType<typeof hubApiStandIn>>;
let nodeServer: string;
let range: { start: number; end: number };
const squatters: Squatter[] = [];

/** Connects to 127.0.0.1:port and sends a GET: 'refused', 'reset' or the response text. */
function probe(port: number): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const s = tcpConnect({ host: '127.0.0.1', port, timeout: 10_000 }, () => s.write('GET /hello HTTP/1.0\r\n\r\n'));
    s.once('timeout', () => s.destroy());
    s.on('data', (d) => (data += d));
    s.on('close', () => resolve(data || 'reset'));
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' ? 'refused' : 'reset'));
  });
}

async function session(id: string) {
  return (await bridge.api('GET', `/v1/sessions/${id}`)).json;
}

async function events(id: string): Promise<{ kind: string; message: string; time: string }[]> {
  return (await bridge.api('GET', `/v1/sessions/${id}/events`)).json.events;
}

async function create(user: string, opts: { ignoreSigterm?: boolean } = {}) {
  const r = await bridge.api('POST', '/v1/sessions', {
    user,
    env: { JUPYTERHUB_SERVICE_PREFIX: `/user/${user}/`, JUPYTERHUB_API_URL: `http://127.0.0.1:${api.port}/hub/api` },
    command: ['/usr/bin/node', nodeServer, ...(opts.ignoreSigterm ? ['--ignore-sigterm'] : [])],
  });
  expect(r.status, JSON.stringify(r.json)).toBe(201);
  return r.json as { id: string; tunnel: { state: string; port: number } };
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  return waitFor(async () => (await fn()) || undefined, { timeoutMs, intervalMs: everyMs, onTimeout: () => `timed out waiting for ${what}` }) as Promise<T>;
}

async function startBridge(): Promise<BridgeProcess> {
  return startBridgeProcess({ config: bridgeConfig, port: bridgePort, tokenFile: join(dir, 'bridge/token') });
}

beforeAll(async () => {
  dir = mkdtempSync('/tmp/hpcb-tsess-');
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'bridge'), { mode: 0o700 });
  svc = await ensureUser(SERVICE_ACCOUNT);
  await ensureUser(SQUAT_USER);
  slurm = await startSlurm({ dir: join(dir, 'slurm') });
  api = await hubApiStandIn();

  // the HPC side as a site installs it, readable by the service account
  mkdirSync(join(dir, 'bin'), { mode: 0o755 });
  copyFileSync(join(REPO, 'dist/hpc-wrap.mjs'), join(dir, 'bin/hpc-wrap.mjs'));
  nodeServer = join(dir, 'bin/tunnel-node-server.mjs');
  copyFileSync(join(REPO, 'test/fixtures/tunnel-node-server.mjs'), nodeServer);
  chmodSync(nodeServer, 0o755);
  const workDir = join(dir, 'hpc');
  mkdirSync(workDir, { mode: 0o755 });
  chownSync(workDir, svc.uid, svc.gid);
  const hpcWrapConfig = join(dir, 'hpc-wrap.yaml');
  writeFileSync(hpcWrapConfig, stringify({ workDir, scheduler: { kind: 'slurm', env: slurm.env, timeoutSeconds: 10 } }));

  const endpointPort = await freePort();
  relay = await startRelay(endpointPort);
  const base = 30000 + Math.floor(Math.random() * 25000);
  range = { start: base, end: base + 9 };
  bridgePort = await freePort();
  bridgeConfig = join(dir, 'hub-bridge.yaml');
  writeFileSync(
    bridgeConfig,
    stringify({
      listen: { host: '127.0.0.1', port: bridgePort },
      apiTokenFile: join(dir, 'bridge/token'),
      stateDb: join(dir, 'bridge/bridge.sqlite'),
      cluster: { transport: { kind: 'local', runAs: SERVICE_ACCOUNT }, hpcWrap: ['/usr/bin/node', join(dir, 'bin/hpc-wrap.mjs'), '--config', hpcWrapConfig], commandTimeoutSeconds: 30 },
      status: { intervalSeconds: 1, startingIntervalSeconds: 0.5, probeTimeoutSeconds: 2 },
      hubApiUrl: `http://127.0.0.1:${api.port}/hub/api`,
      ports: range,
      tunnel: {
        enabled: true,
        listen: { host: '127.0.0.1', port: endpointPort },
        publicHost: '127.0.0.1',
        publicPort: relay.port, // the agents reach the endpoint through the relay
        hostKeyFile: join(dir, 'bridge/tunnel-host-key'),
        keepaliveIntervalSeconds: 1,
        endpointKeepaliveSeconds: 1,
      },
      profiles: [{ name: 'small', displayName: 'Small', resources: { partition: 'debug', cpus: 1, memoryMB: 128, walltime: '00:30:00' } }],
    }),
  );
  bridge = await startBridge();
}, 300_000);

afterAll(async () => {
  for (const s of squatters) await s.stop().catch(() => null);
  await bridge?.kill('SIGTERM').catch(() => {});
  await slurm?.stop().catch(() => {});
  await relay?.close();
  await new Promise((r) => api?.server.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('a session whose hub-side port an unprivileged account squats the whole time', () => {
  let id: string;
  let P: number;
  let squat: Squatter;

  it('during the queue wait: the port is the bridge\'s, answers nobody, and the session is not ready', async () => {
    const blocker = await slurm.run(['sbatch', '--parsable', '--cpus-per-task=20', '--mem=128M', '--job-name=blocker', '--wrap', 'sleep 600', '--output=/dev/null'], { user: SERVICE_ACCOUNT });
    expect(blocker.code, blocker.stderr).toBe(0);
    const s = await create('alice', { ignoreSigterm: true }); // its job outlives the stop by Slurm's KillWait
    id = s.id;
    P = s.tunnel.port;
    expect(s.tunnel.state).toBe('waiting');
    expect(P).toBeGreaterThanOrEqual(range.start);
    squat = startSquatter(SQUAT_USER, [P]);
    squatters.push(squat);
    await squat.trying;
    await until('queued', async () => (await session(id)).state === 'queued');
    for (let i = 0; i < 5; i++) {
      expect(await probe(P)).toBe('reset'); // what the hub's proxy would get: nothing, from nobody
      await sleep(200);
    }
    expect((await session(id)).state).toBe('queued');
    await slurm.run(['scancel', blocker.stdout.trim()], { user: SERVICE_ACCOUNT });
    await until('ready', async () => (await session(id)).state === 'ready');
    const ev = await events(id);
    const up = ev.findIndex((e) => /^Tunnel up: the hub reaches your server through 127\.0\.0\.1:/.test(e.message));
    expect(up).toBeGreaterThanOrEqual(0);
    expect(up).toBeLessThan(ev.findIndex((e) => e.kind === 'ready'));
    expect(await probe(P)).toMatch(/node-ok$/);
    expect((await session(id)).tunnel).toMatchObject({ state: 'up', port: P });
  });

  it('a cut connection shows in the session within 5 s (state and event), the session stays ready, and it comes back', async () => {
    relay.refuse(true); // the agent cannot reconnect for a while: the squatter's best chance
    relay.cut();
    const t0 = Date.now();
    const down = await until('tunnel down in the session', async () => {
      const s = await session(id);
      return s.tunnel.state === 'down' ? s : undefined;
    }, 5_000, 50);
    const seenMs = Date.now() - t0;
    expect(down.state).toBe('ready');
    expect((await events(id)).map((e) => e.message)).toContainEqual(expect.stringMatching(/^The tunnel to your server is down \(.+\); reconnecting$/));
    for (let i = 0; i < 10; i++) {
      expect(await probe(P)).toBe('reset');
      await sleep(200);
    }
    relay.refuse(false);
    await until('tunnel up again', async () => (await session(id)).tunnel.state === 'up', 15_000);
    expect((await events(id)).map((e) => e.message)).toContain('The tunnel to your server is up again');
    expect(await probe(P)).toMatch(/node-ok$/);
    console.log(`cut seen by the session after ${seenMs} ms`);
  });

  it('a black-holed connection (nothing closes) shows within 5 s too, and comes back', async () => {
    relay.blackhole();
    const t0 = Date.now();
    await until('tunnel down in the session', async () => (await session(id)).tunnel.state === 'down', 5_000, 50);
    const seenMs = Date.now() - t0;
    await until('tunnel up again', async () => (await session(id)).tunnel.state === 'up', 20_000);
    expect(await probe(P)).toMatch(/node-ok$/);
    expect((await session(id)).state).toBe('ready');
    expect((await events(id)).filter((e) => e.kind === 'ready')).toHaveLength(1);
    console.log(`black hole seen by the session after ${seenMs} ms`);
  });

  it('stopping cuts the connection within 1 s although the job still runs; the squatter got P only after the stop, and nothing with it', async () => {
    const ids = relay.openIds();
    expect(ids.length).toBeGreaterThanOrEqual(1);
    const t0 = Date.now();
    const r = await bridge.api('DELETE', `/v1/sessions/${id}`);
    expect(r.status).toBe(202);
    await until('the agent connection closed', async () => ids.every((i) => !relay.openIds().includes(i)), 5_000, 10);
    const ms = Date.now() - t0;
    expect(ms).toBeLessThan(1000);
    expect((await slurm.squeue()).find((j) => j.name === 'jupyterhub-alice')).toBeDefined(); // the job had not ended: the bridge cut it
    // the port is no longer the session's: the squatter may take it now, and gets nothing
    await until('the squatter holds P after the stop', async () => (await probe(P)).includes('squatter'), 10_000);
    const report = await squat.stop();
    expect(report.attempts).toBeGreaterThan(50);
    expect(report.bound).toContain(`127.0.0.1:${P}`);
    for (const at of Object.values(report.boundAt)) expect(at).toBeGreaterThanOrEqual(t0);
    expect(report.connections).toBe(1); // our own probe just above; never the bridge
    await until('the session stopped', async () => (await session(id)).state === 'stopped');
    expect((await events(id)).filter((e) => e.kind === 'ready')).toHaveLength(1);
    const out = readFileSync(join(dir, 'hpc/users/alice/sessions', id, 'output.log'), 'utf8');
    expect(out).toMatch(/tunnel down: .*reconnecting/);
    console.log(`connection closed ${ms} ms after the stop`);
    // a new session never gets a squatted port, and is ready through its own
    const again = startSquatter(SQUAT_USER, [P], { hold: true });
    squatters.push(again);
    expect(await again.held).toEqual([P]);
    const next = await create('bob');
    expect(next.tunnel.port).not.toBe(P);
    await until('bob ready', async () => (await session(next.id)).state === 'ready');
    expect(await again.stop()).toMatchObject({ connections: 0, bytes: 0 });
    await bridge.api('DELETE', `/v1/sessions/${next.id}`);
  });
});

describe('a bridge restart', () => {
  it('takes back the live sessions\' ports; a port squatted meanwhile is never routed: that session ends, saying why', async () => {
    const [a, b] = [await create('carol'), await create('dave')];
    for (const s of [a, b]) await until(`${s.id} ready`, async () => (await session(s.id)).state === 'ready');
    await bridge.kill('SIGKILL');
    const squat = startSquatter(SQUAT_USER, [b.tunnel.port], { hold: true });
    squatters.push(squat);
    expect(await squat.held).toEqual([b.tunnel.port]);
    bridge = await startBridge();

    const lost = await until('dave failed', async () => {
      const s = await session(b.id);
      return s.state === 'failed' ? s : undefined;
    }, 30_000);
    expect(lost.message).toContain(`hub-side port 127.0.0.1:${b.tunnel.port}`);
    expect(lost.message).toMatch(/another program took it while the bridge was down/);
    expect((await events(b.id)).at(-1)).toMatchObject({ kind: 'failed' });
    expect(bridge.log()).toContain(`tunnel port 127.0.0.1:${b.tunnel.port} could not be taken back after a restart`);
    await until('dave\'s job cancelled', async () => !(await slurm.squeue()).some((j) => j.name === 'jupyterhub-dave'), 30_000);

    // carol's port is the bridge's again; her agent reconnects; the session stayed ready
    await until('carol tunnel up again', async () => (await session(a.id)).tunnel.state === 'up', 30_000);
    expect((await session(a.id)).state).toBe('ready');
    expect(await probe(a.tunnel.port)).toMatch(/node-ok$/);
    const report = await squat.stop();
    expect(report).toMatchObject({ connections: 0, bytes: 0 }); // the bridge never probed or routed to it
    await bridge.api('DELETE', `/v1/sessions/${a.id}`);
    await until('no jobs left', async () => (await slurm.squeue()).filter((j) => j.name.startsWith('jupyterhub-')).length === 0, 30_000);
  });
});

describe('hpc-bridge try with the tunnel on', () => {
  it('passes through real Slurm and the tunnel, prints the tunnel phase with its time before ready, and leaves no job', async () => {
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((res) => {
      execFile(process.execPath, [join(REPO, 'dist/hpc-bridge.mjs'), '--config', bridgeConfig, 'try', '--user', 'erin', '--timeout', '90'], { timeout: 150_000 }, (err, stdout, stderr) =>
        res({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
      );
    });
    console.log(r.stdout);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.split('\n').flatMap((l) => {
      const m = /^\s+(\d+\.\d) s {2}(\S+) *(.*)$/.exec(l);
      return m ? [{ phase: m[2]!, text: m[3]! }] : [];
    });
    const phases = lines.map((m) => m.phase);
    const up = lines.find((m) => m.phase === 'tunnel' && m.text.startsWith('up'));
    expect(up?.text).toMatch(/^up: the hub reaches the server through hub-side port 127\.0\.0\.1:(\d+)$/);
    const port = Number(/:(\d+)$/.exec(up!.text)![1]);
    expect(port).toBeGreaterThanOrEqual(range.start);
    expect(port).toBeLessThanOrEqual(range.end);
    expect(phases.indexOf('tunnel')).toBeLessThan(phases.indexOf('ready'));
    expect(lines.findIndex((m) => m === up)).toBeLessThan(phases.indexOf('ready'));
    expect(r.stdout).toMatch(new RegExp(`answers {4}http://127\\.0\\.0\\.1:${port}/user/erin/try-[0-9a-f]{6}/api from node \\S+`));
    expect(phases.at(-1)).toBe('stopped');
    expect(r.stdout).toMatch(/Smoke test passed in \d+\.\d s: submit, start, port, tunnel, readiness and stop all work\./);
    await until('no try job left', async () => !(await slurm.squeue()).some((j) => j.name.includes('erin')), 30_000);
  }, 180_000);
});
