// End to end on real components: Debian's JupyterHub 3 with HpcBridgeSpawner → the bridge
// (its own process) → hpc-wrap as the service account → a real batch system (Slurm, or Grid
// Engine) → the real jupyterhub-singleuser, reached through the hub's proxy. Defined once,
// run per transport and scheduler: `local` (the bridge runs hpc-wrap as the service
// account) and `ssh` (a real sshd is the login node; see e2e-ssh.test.ts), on Slurm; and
// `local` on Grid Engine (e2e-gridengine.test.ts).
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeKey, ensureUser, pidsMatching, processEnviron, sampleCmdlines, freePort, makeClientKey, startHub, startSshd, type Hub, type Sshd, type UserInfo } from './harness/index.js';
import { startE2eCluster, type E2eCluster, type E2eSchedulerKind } from './e2e-cluster.js';
import { REPO, startBridgeProcess, type BridgeProcess } from './bridge-process.js';
import { startRelay, type TcpRelay } from '../support/tcp-relay.js';

export interface E2eMode {
  transport: 'local' | 'ssh';
  /** Reach each notebook through the restricted reverse tunnel (the bridge's own SSH endpoint). */
  tunnel: boolean;
  /** The batch system (default slurm). */
  scheduler?: E2eSchedulerKind;
}

export function defineEndToEnd(mode: E2eMode): void {
const SERVICE_ACCOUNT = 'hpcbridge-svc';
let sshd: Sshd | null = null;
let relay: TcpRelay | null = null;
let dir: string;
let cluster: E2eCluster;
const schedulerKind = mode.scheduler ?? 'slurm';
// Scheduler-independent parts (bridge restart, maintenance) run on Slurm only.
const fullSuite = schedulerKind === 'slurm';
let hub: Hub;
let bridge: BridgeProcess;
let svc: UserInfo;
let bridgePort: number;
let bridgeConfig: string;
let workDir: string;
let hpcWrapConfig: string;
const hpcWrapSettings = (extra: Record<string, unknown> = {}) => ({
  workDir,
  scheduler: cluster.hpcWrapScheduler,
  job: { outputTailLines: 15 },
  ...extra,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 500): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

const jobsOf = async (user?: string) => (await cluster.jobs()).filter((j) => !user || j.name.endsWith(`-${user}`));

async function sessionOf(user: string) {
  const r = await bridge.api('GET', `/v1/sessions?user=${encodeURIComponent(user)}`);
  return r.json.sessions[0];
}

/** How the bridge reaches the "login node": locally as the service account, or over SSH to it. */
async function clusterTransport(): Promise<Record<string, unknown>> {
  if (mode.transport === 'local') return { kind: 'local', runAs: SERVICE_ACCOUNT };
  sshd = await startSshd({ dir: join(dir, 'login-sshd') });
  const key = await makeClientKey(join(dir, 'bridge/id_ed25519'));
  await authorizeKey(SERVICE_ACCOUNT, key.publicKey);
  const knownHostsFile = join(dir, 'bridge/known_hosts');
  writeFileSync(knownHostsFile, `${sshd.knownHostsLine()}\n`, { mode: 0o600 });
  return { kind: 'ssh', host: '127.0.0.1', port: sshd.port, user: SERVICE_ACCOUNT, identityFile: key.privateKeyFile, knownHostsFile };
}

/**
 * The tunnel: the bridge's own SSH endpoint on loopback, reached by the jobs' agents through
 * a relay (so that a test can cut their connections as a network would).
 */
async function bridgeTunnel(): Promise<Record<string, unknown>> {
  const endpointPort = await freePort();
  relay = await startRelay(endpointPort);
  return {
    enabled: true,
    listen: { host: '127.0.0.1', port: endpointPort },
    publicHost: '127.0.0.1',
    publicPort: relay.port,
    hostKeyFile: join(dir, 'bridge/tunnel-host-key'),
    keepaliveIntervalSeconds: 2,
  };
}

beforeAll(async () => {
  dir = mkdtempSync('/tmp/hpc-bridge-e2e-');
  mkdirSync(join(dir, 'bridge'), { mode: 0o700 });
  chmodSync(dir, 0o755);
  svc = await ensureUser(SERVICE_ACCOUNT);
  cluster = await startE2eCluster(schedulerKind, dir);

  // The HPC side as a site installs it: the bundled hpc-wrap and its config.
  mkdirSync(join(dir, 'bin'), { mode: 0o755 });
  copyFileSync(join(REPO, 'dist/hpc-wrap.mjs'), join(dir, 'bin/hpc-wrap.mjs'));
  chmodSync(join(dir, 'bin/hpc-wrap.mjs'), 0o755);
  workDir = join(dir, 'hpc');
  mkdirSync(workDir, { mode: 0o755 });
  chownSync(workDir, svc.uid, svc.gid);
  hpcWrapConfig = join(dir, 'hpc-wrap.yaml');
  writeFileSync(hpcWrapConfig, stringify(hpcWrapSettings()));

  bridgePort = await freePort();
  hub = await startHub({
    dir: join(dir, 'hub'),
    pythonPath: [join(REPO, 'hub-bridge/jupyterhub')],
    pollInterval: 5,
    startTimeout: 180,
    httpTimeout: 60,
    spawnerClassConfig: [
      "c.JupyterHub.spawner_class = 'hpc_bridge_spawner.HpcBridgeSpawner'",
      `c.HpcBridgeSpawner.bridge_url = 'http://127.0.0.1:${bridgePort}'`,
      `c.HpcBridgeSpawner.bridge_token_file = ${JSON.stringify(join(dir, 'bridge/token'))}`,
      "c.Spawner.cmd = ['/usr/bin/jupyterhub-singleuser']",
      // POST /users/NAME/server answers 202 at once; the test follows the progress stream.
      "c.JupyterHub.tornado_settings = {'slow_spawn_timeout': 0}",
      // One user whose environment is broken: the server dies at once inside the job.
      'def _pre_spawn(spawner):',
      "    if spawner.user.name == 'broken':",
      "        spawner.cmd = ['/usr/bin/python3', '-c', 'import sys; print(\"ModuleNotFoundError: No module named notebook\", file=sys.stderr); sys.exit(3)']",
      'c.Spawner.pre_spawn_hook = _pre_spawn',
    ].join('\n'),
  });

  bridgeConfig = join(dir, 'hub-bridge.yaml');
  writeFileSync(
    bridgeConfig,
    stringify({
      listen: { host: '127.0.0.1', port: bridgePort },
      apiTokenFile: join(dir, 'bridge/token'),
      stateDb: join(dir, 'bridge/bridge.sqlite'),
      cluster: {
        transport: await clusterTransport(),
        hpcWrap: ['/usr/bin/node', join(dir, 'bin/hpc-wrap.mjs'), '--config', hpcWrapConfig],
        commandTimeoutSeconds: 30,
      },
      status: { intervalSeconds: 2, startingIntervalSeconds: 0.5, probeTimeoutSeconds: 2 },
      hubApiUrl: `http://127.0.0.1:${hub.ports.hub}/hub/api`,
      ...(mode.tunnel ? { tunnel: await bridgeTunnel(), ports: { start: 42000, end: 42999 } } : {}),
      profiles: [{ name: 'small', displayName: 'Small (1 CPU)', resources: cluster.profileResources }],
    }),
  );
  bridge = await startBridgeProcess({ config: bridgeConfig, port: bridgePort, tokenFile: join(dir, 'bridge/token') });

}, 300_000);

afterAll(async () => {
  await hub?.stop().catch(() => {});
  await bridge?.kill('SIGTERM').catch(() => {});
  await cluster?.stop().catch(() => {});
  await sshd?.stop().catch(() => {});
  await relay?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe(`JupyterHub → bridge (${mode.transport}${mode.tunnel ? ' + tunnel' : ''}) → ${schedulerKind}, end to end`, () => {
  it(`two users get real ${schedulerKind} jobs run by the service account, reachable through the hub proxy, with progress`, async () => {
    const sampler = sampleCmdlines();
    await hub.startServer('alice', { wait: false });
    await hub.startServer('bob', { wait: false });
    const [events] = await Promise.all([hub.progress('alice'), hub.progress('bob')]);
    for (const user of ['alice', 'bob']) {
      await until(`${user} ready in the hub`, async () => ((await hub.api('GET', `/users/${user}`)).json?.servers?.['']?.ready ? true : undefined)).catch(async (err) => {
        throw new Error(`${(err as Error).message}; bridge says ${JSON.stringify((await sessionOf(user)) ?? null)}; hub log: ${hub.logs().slice(-1500)}`);
      });
    }

    const jobs = await cluster.jobs();
    for (const user of ['alice', 'bob']) {
      const job = jobs.find((j) => j.name === `jupyterhub-${user}`);
      expect(job, JSON.stringify(jobs)).toBeDefined();
      expect(cluster.isRunning(job!), JSON.stringify(job)).toBe(true);
      expect(job!.user).toBe(SERVICE_ACCOUNT);
      const res = await hub.userProxyGet(user, 'api');
      expect(res.status).toBe(200);
      expect(res.json.version).toBeDefined();
    }

    // No secret in any process's argv while the sessions started: the hub's tokens for the
    // two servers (read from the servers' own environment) never appear in a command line.
    const cmdlines = sampler.stop();
    const tokens = pidsMatching('jupyterhub-singleuser')
      .map((pid) => { try { return processEnviron(pid).JUPYTERHUB_API_TOKEN; } catch { return undefined; } })
      .filter((t): t is string => !!t && t.length >= 16);
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    for (const t of tokens) expect(cmdlines.filter((c) => c.includes(t))).toEqual([]);
    const hpcLog = join(workDir, 'log/hpc-wrap.log');
    const logs = bridge.log() + (existsSync(hpcLog) ? readFileSync(hpcLog, 'utf8') : '');
    for (const t of tokens) expect(logs.includes(t)).toBe(false);
    expect(cmdlines.filter((c) => c.includes('PRIVATE KEY'))).toEqual([]);

    if (mode.tunnel) {
      // The hub reaches each notebook only at its session's hub-side tunnel port.
      for (const user of ['alice', 'bob']) {
        const s = await sessionOf(user);
        expect(s.host).toBe('127.0.0.1');
        expect(s.port).toBeGreaterThanOrEqual(42000);
        expect(s.port).toBeLessThanOrEqual(42999);
        const status = JSON.parse(readFileSync(join(workDir, 'users', user, 'sessions', s.id, 'status.json'), 'utf8'));
        expect(status.tunnel).toBe('up');
        expect(status.port).not.toBe(s.port); // the node-side port is another one
        expect(s.tunnel).toMatchObject({ state: 'up', port: s.port });
      }
      // reported as a progress event by the bridge (the hub's stream may end at "ready" before
      // its last poll of the bridge's events, so read them at the source)
      const alice = await sessionOf('alice');
      const bridgeEvents = (await bridge.api('GET', `/v1/sessions/${alice.id}/events`)).json.events as { message: string }[];
      expect(bridgeEvents.map((e) => e.message).join('\n')).toMatch(/Tunnel up/);
      // held by the node's OpenSSH ssh under the job launcher: no Node in the job before the server
      expect(logs).toMatch(/"event":"start-env\.tunnel-up"[^\n]*"agent":"openssh"/);
    }

    const text = events.map((e) => e.message ?? '').join('\n');
    expect(text).toMatch(/Submitted batch job \d+/);
    expect(text).toMatch(/queue/i);
    expect(text).toMatch(/running on node/i);
    expect(text).toMatch(/ready/i);
  });

  it('a job that dies while starting fails the spawn within seconds with the reason and the job output', async () => {
    const t0 = Date.now();
    const started = await hub.startServer('broken', { wait: false }).catch((e: Error) => e);
    expect(started, hub.logs().split('\n').filter((l) => l.includes('broken')).slice(-20).join('\n')).not.toBeInstanceOf(Error);
    const events = await hub.progress('broken');
    const elapsed = (Date.now() - t0) / 1000;
    expect(elapsed).toBeLessThan(30); // start_timeout is 180 s
    const failure = events.find((e) => e.failed);
    // a plain sentence first (the hub prefixes "Spawn failed: "), then the details once
    expect(failure?.message).toMatch(/^Spawn failed: Your server stopped while it was starting: .*\(reference: job \d+\)\.\n\n/);
    expect(failure?.message?.match(/ModuleNotFoundError: No module named notebook/g)).toHaveLength(1);
    expect(failure?.message).toMatch(/exit code 3/);
  });

  // Only in tunnel mode (there is no tunnel to kill otherwise).
  if (mode.tunnel) it('a killed tunnel connection comes back within 10 s; the hub never stops the server', async () => {
    expect(relay!.connections()).toBeGreaterThanOrEqual(2); // alice's and bob's tunnels
    relay!.cut();
    const t0 = Date.now();
    for (const user of ['alice', 'bob']) {
      await until(`${user} reachable again`, async () => ((await hub.userProxyGet(user, 'api')).status === 200 ? true : undefined), 10_000, 200);
    }
    expect(Date.now() - t0).toBeLessThan(10_000);
    for (const user of ['alice', 'bob']) {
      expect((await hub.api('GET', `/users/${user}`)).json.servers[''].ready).toBe(true);
      expect((await sessionOf(user)).state).toBe('ready');
    }
  });

  it(`a session survives a 30 s ${schedulerKind} controller outage: the hub keeps the server, no orphan, it answers afterwards`, async () => {
    const before = await sessionOf('alice');
    expect(before.state).toBe('ready');
    await cluster.stopController();
    try {
      await sleep(30_000); // the hub polls every 5 s, the bridge every 2 s
      const during = await sessionOf('alice');
      expect(during.state).toBe('ready');
      expect(during.schedulerReachable).toBe(false);
      const user = await hub.api('GET', '/users/alice');
      expect(user.json.servers[''].ready).toBe(true);
    } finally {
      await cluster.startController();
    }
    await until('the bridge sees the scheduler again', async () => ((await sessionOf('alice')).schedulerReachable ? true : undefined));
    expect((await hub.userProxyGet('alice', 'api')).status).toBe(200);
    expect((await jobsOf('alice')).length).toBe(1);
  });

  if (fullSuite) it('the bridge killed with SIGKILL mid-spawn and restarted: the spawn completes, one job, same session for the same key', async () => {
    const spawn = hub.startServer('carol', { timeoutMs: 150_000 });
    await until('carol submitted', async () => ((await sessionOf('carol'))?.jobId ? true : undefined), 60_000, 200);
    await bridge.kill('SIGKILL');
    await sleep(2_000);
    bridge = await startBridgeProcess({ config: bridgeConfig, port: bridgePort, tokenFile: join(dir, 'bridge/token') });
    const r = await spawn;
    expect(r.ready, hub.logs().slice(-3000)).toBe(true);
    expect((await hub.userProxyGet('carol', 'api')).status).toBe(200);
    expect((await jobsOf('carol')).length).toBe(1);

    // The Idempotency-Key contract, directly on the API.
    const body = { user: 'dora', profile: 'small', env: { JUPYTERHUB_SERVICE_PREFIX: '/user/dora/' }, command: ['/usr/bin/sleep', '600'] };
    const first = await bridge.api('POST', '/v1/sessions', body, { 'Idempotency-Key': 'dora-1' });
    expect(first.status).toBe(201);
    await until('dora submitted', async () => ((await bridge.api('GET', `/v1/sessions/${first.json.id}`)).json.jobId ? true : undefined));
    await bridge.kill('SIGKILL');
    bridge = await startBridgeProcess({ config: bridgeConfig, port: bridgePort, tokenFile: join(dir, 'bridge/token') });
    const again = await bridge.api('POST', '/v1/sessions', body, { 'Idempotency-Key': 'dora-1' });
    expect(again.status).toBe(200);
    expect(again.json.id).toBe(first.json.id);
    expect((await jobsOf('dora')).length).toBe(1);
    await bridge.api('DELETE', `/v1/sessions/${first.json.id}`);
  });

  it('a queued spawn reports its queue position and the scheduler reason', async () => {
    // Fill the node so the next job has to wait.
    const releaseBlocker = await cluster.fillNode(SERVICE_ACCOUNT);
    const created = await bridge.api('POST', '/v1/sessions', { user: 'erin', env: { JUPYTERHUB_SERVICE_PREFIX: '/user/erin/' }, command: ['/usr/bin/sleep', '600'] });
    const queued = await until('queued with a reason', async () => {
      const s = (await bridge.api('GET', `/v1/sessions/${created.json.id}`)).json;
      return s.state === 'queued' && s.reason ? s : undefined;
    });
    expect(queued.queue.position).toBeGreaterThanOrEqual(1);
    expect(queued.message).toMatch(cluster.queuedMessage);
    await bridge.api('DELETE', `/v1/sessions/${created.json.id}`);
    await releaseBlocker();
  });

  if (fullSuite) it('maintenance mode refuses a spawn with its message in the hub progress; an allow-listed user still spawns', async () => {
    const message = 'Cluster maintenance until 14:00 (kernel update); please try again later.';
    writeFileSync(hpcWrapConfig, stringify(hpcWrapSettings({ maintenance: { enabled: true, message, allowUsers: ['frank'] } })));
    try {
      await hub.startServer('grace', { wait: false });
      const events = await hub.progress('grace');
      const failure = events.find((e) => e.failed);
      expect(failure?.message).toContain(message);
      expect((await jobsOf('grace')).length).toBe(0);

      const frank = await hub.startServer('frank');
      expect(frank.ready).toBe(true);
      expect((await hub.userProxyGet('frank', 'api')).status).toBe(200);
      await hub.stopServer('frank');
    } finally {
      writeFileSync(hpcWrapConfig, stringify(hpcWrapSettings()));
    }
  });

  it("stopping the servers removes the jobs from the scheduler's list and marks the sessions stopped", async () => {
    const users = fullSuite ? ['alice', 'bob', 'carol'] : ['alice', 'bob'];
    for (const user of users) await hub.stopServer(user);
    await until('no notebook jobs left', async () => ((await jobsOf()).filter((j) => j.name.startsWith('jupyterhub-') && users.some((u) => j.name.endsWith(u))).length === 0 ? true : undefined));
    // A scheduler that forgets a job at once (Grid Engine) may be quicker than the bridge's next poll.
    for (const user of users) await until(`${user}'s session stopped`, async () => ((await sessionOf(user)).state === 'stopped' ? true : undefined), 30_000);
    if (mode.tunnel) {
      // revoked: each stopped session's tunnel is closed, and nothing carries its port any more
      for (const user of ['alice', 'bob', 'carol']) {
        const s = await sessionOf(user);
        expect(s.tunnel.state).toBe('closed');
        const r = await fetch(`http://127.0.0.1:${s.tunnel.port}/`).then((x) => x.status, (e: Error) => e.message);
        expect(r).toBe('fetch failed');
      }
    }
  });

  it('doctor checks every link of the chain and finds nothing to fix', async () => {
    const argv = [join(REPO, 'dist/hpc-bridge.mjs'), '--config', bridgeConfig, 'doctor', '--json'];
    const out = await new Promise<string>((resolve) => {
      execFile(process.execPath, argv, { timeout: 60_000 }, (_err, stdout) => resolve(String(stdout)));
    });
    const { results } = JSON.parse(out) as { results: { name: string; ok: boolean; detail: string }[] };
    expect(results.filter((r) => !r.ok)).toEqual([]);
    const names = results.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(['login node and hpc-wrap', 'hpc-wrap version', 'scheduler', 'JupyterHub API']));
    if (mode.tunnel) expect(names).toEqual(expect.arrayContaining(['tunnel host key', 'tunnel endpoint', 'tunnel public address', 'tunnel port range']));
  });

  it('left no secret in the bridge log and no file outside the escaped user dirs', () => {
    expect(bridge.log()).not.toMatch(/JUPYTERHUB_API_TOKEN"\s*:\s*"[^<]/);
    const users = readdirSync(join(workDir, 'users')).sort();
    expect(users).toEqual(expect.arrayContaining(fullSuite ? ['alice', 'bob', 'broken', 'carol'] : ['alice', 'bob', 'broken']));
    for (const u of users) expect(u).toMatch(/^[a-z0-9_-]+$/);
  });
});
}
