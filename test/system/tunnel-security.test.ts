// The notebook tunnel against the bridge's own SSH endpoint (hub-bridge/tunnel, the real
// code, here in the test process): what a stolen per-job key can do (every attempt
// asserts that the thing did not happen: no marker file, no port bound, no byte received),
// tried with ssh2 and with OpenSSH's own ssh/sftp clients; what an unprivileged local
// account can do to the hub-side ports (nothing, from grant to end, however much of the
// range it holds); 200 agents at once; and the compute-side agent (start-env from the
// built hpc-wrap bundle) end to end, through a relay that can cut the network.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TunnelClient } from '../../hpc-wrappers/start-env/tunnel-client.js';
import { generateTunnelKey } from '../../hub-bridge/tunnel/tunnel-keys.js';
import { startRelay, type TcpRelay } from '../support/tcp-relay.js';
import { startTestEndpoint, type TestEndpoint } from '../support/tunnel-endpoint.js';
import { ensureUser, freePorts, waitFor } from './harness/index.js';
import {
  agentReady,
  forwardIn,
  forwardOut,
  httpGet,
  httpOverChannel,
  hubApiStandIn,
  namedServer,
  REPO,
  sshConnect,
  startAgent,
  startSquatter,
  TUNNEL_USER,
  type Agent,
} from './tunnel-fixture.js';

const SQUAT_USER = 'hpcbridge-squat';
const open: ssh2.Client[] = [];
const track = (c: ssh2.Client) => (open.push(c), c);
afterEach(() => {
  for (const c of open.splice(0)) c.end();
});

function canBind(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** Connects to host:port; 'refused' | 'reset' | 'open' (| 'timeout'). */
function probe(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host, port, timeout: 5_000 });
    s.once('timeout', () => {
      s.destroy();
      resolve('timeout');
    });
    s.once('connect', () => {
      s.write('GET / HTTP/1.0\r\n\r\n');
      s.once('data', () => resolve('open'));
      s.once('close', () => resolve('reset'));
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' ? 'refused' : 'reset'));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Tries a session request; resolves with what the endpoint did (never throws). */
function trySession(c: ssh2.Client, kind: 'exec' | 'shell' | 'subsystem' | 'sftp', arg: string, opts: ssh2.ExecOptions = {}): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), 10_000);
    const done = (what: string) => {
      clearTimeout(timer);
      resolve(what);
    };
    const cb = (err: Error | undefined, stream: ssh2.ClientChannel) => {
      if (err) return done(`refused: ${err.message}`);
      let out = '';
      stream.on('data', (d: Buffer) => (out += d));
      stream.stderr.on('data', (d: Buffer) => (out += d));
      stream.on('close', (code: number | null) => done(`ran, exit ${code}: ${out.trim()}`));
      if (kind === 'shell') stream.end(`${arg}\nexit 0\n`);
    };
    if (kind === 'exec') c.exec(arg, opts, cb);
    else if (kind === 'shell') c.shell(opts.pty ? {} : false, cb);
    else if (kind === 'sftp') c.sftp((err) => done(err ? `refused: ${err.message}` : 'ran: sftp opened'));
    else c.subsys(arg, cb);
  });
}

function execFileP(argv: string[], input?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(argv[0]!, argv.slice(1), { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0, out: `${stdout}${stderr}` });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

let dir: string;
let api: Awaited<ReturnType<typeof hubApiStandIn>>;
let nodeSide: Awaited<ReturnType<typeof namedServer>>;
let other: Awaited<ReturnType<typeof namedServer>>;
let hub: TestEndpoint;
const markerBase = `/tmp/tunnel-marker-${process.pid}-${Date.now()}`;
const markers = () => readdirSync('/tmp').filter((f) => f.startsWith(markerBase.slice('/tmp/'.length)));

beforeAll(async () => {
  dir = mkdtempSync('/tmp/hpcb-tunnel-');
  await ensureUser(SQUAT_USER);
  api = await hubApiStandIn();
  nodeSide = await namedServer('node-side');
  other = await namedServer('other-service');
  hub = await startTestEndpoint({ apiPort: api.port });
});

afterAll(async () => {
  for (const c of open.splice(0)) c.end();
  await hub?.close();
  for (const s of [api, nodeSide, other]) await new Promise((r) => s?.server.close(r));
  for (const m of markers()) rmSync(join('/tmp', m), { force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a live job key at the bridge's tunnel endpoint", () => {
  let s1: Awaited<ReturnType<TestEndpoint['session']>>;
  let s2: Awaited<ReturnType<TestEndpoint['session']>>;
  let P1: number;
  let P2: number;
  let keyFile1: string;
  let knownHosts: string;
  beforeAll(async () => {
    [s1, s2] = [await hub.session(), await hub.session()];
    [P1, P2] = [s1.grant.remotePort, s2.grant.remotePort];
    keyFile1 = join(dir, 'key1');
    writeFileSync(keyFile1, s1.grant.privateKey, { mode: 0o600 });
    knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, `${s1.spec.hostKeys[0]}\n`);
  });

  const connect = (privateKey: string, extra: Partial<ssh2.ConnectConfig> = {}) => sshConnect(hub.port, TUNNEL_USER, privateKey, extra).then(track);
  const toNodeSide = (c: ssh2.Client) =>
    c.on('tcp connection', (_info, accept) => {
      const ch = accept();
      const sock = tcpConnect(nodeSide.port, '127.0.0.1');
      ch.pipe(sock).pipe(ch);
    });
  /** OpenSSH's ssh with job key 1 against the endpoint. */
  const ssh = (...args: string[]) =>
    execFileP(['ssh', '-F', '/dev/null', '-i', keyFile1, '-p', String(hub.port), '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', ...args]);

  it('may listen on its own P1: a request to 127.0.0.1:P1 reaches the node-side server', async () => {
    const c = toNodeSide(await connect(s1.grant.privateKey));
    await forwardIn(c, '127.0.0.1', P1);
    expect(await httpGet(P1, '/through-p1')).toEqual({ status: 200, body: 'node-side /through-p1' });
  });

  it('may open the hub API port A (direct-tcpip)', async () => {
    const c = await connect(s1.grant.privateKey);
    expect(await httpOverChannel(await forwardOut(c, '127.0.0.1', api.port), '/hub/api/x')).toBe('hub-api /hub/api/x');
  });

  it('runs nothing: shell, exec, subsystems, sftp, a pty, env, X11 and agent forwarding are refused; no marker file appears', async () => {
    const c = await connect(s1.grant.privateKey);
    const results = {
      exec: await trySession(c, 'exec', `touch ${markerBase}-exec`),
      shell: await trySession(c, 'shell', `touch ${markerBase}-shell`),
      ptyShell: await trySession(c, 'shell', `touch ${markerBase}-pty`, { pty: true }),
      execEnv: await trySession(c, 'exec', `touch ${markerBase}-env`, { env: { LD_PRELOAD: '/tmp/x.so' } }),
      execX11: await trySession(c, 'exec', `touch ${markerBase}-x11`, { x11: true }),
      execAgent: await trySession(c, 'exec', `touch ${markerBase}-agent`, { agentForward: true } as ssh2.ExecOptions),
      subsystem: await trySession(c, 'subsystem', 'markersub'),
      sftp: await trySession(c, 'sftp', ''),
    };
    // the same through OpenSSH's own clients
    const viaSsh = await ssh('-T', `${TUNNEL_USER}@127.0.0.1`, 'touch', `${markerBase}-openssh`);
    const viaSftp = await execFileP(['sftp', '-F', '/dev/null', '-i', keyFile1, '-P', String(hub.port), '-b', '-', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`, `${TUNNEL_USER}@127.0.0.1`], `put ${keyFile1} ${markerBase}-sftp\n`);
    await sleep(300);
    expect(markers(), JSON.stringify(results)).toEqual([]);
    for (const [what, r] of Object.entries(results)) expect(r, what).toMatch(/^refused: /);
    expect(viaSsh.code, viaSsh.out).not.toBe(0);
    expect(viaSsh.out).toMatch(/open failed|administratively prohibited/i);
    expect(viaSftp.code, viaSftp.out).not.toBe(0);
    // the connection still forwards afterwards
    expect(await httpOverChannel(await forwardOut(c, '127.0.0.1', api.port), '/after')).toBe('hub-api /after');
  });

  it('may not listen anywhere else: P2 (another job), a random port, 0.0.0.0, localhost, ::1, 127.0.0.2, port 0; nothing gets bound', async () => {
    const c = await connect(s1.grant.privateKey);
    c.on('tcp connection', (_i, accept) => accept().end('HTTP/1.0 200 OK\r\n\r\nkey-1'));
    const [random] = await freePorts(1);
    for (const [host, port] of [['127.0.0.1', P2], ['127.0.0.1', random!], ['0.0.0.0', P1], ['localhost', P1], ['::1', P1], ['127.0.0.2', P1], ['', P1], ['127.0.0.1', 0]] as const) {
      await expect(forwardIn(c, host, port), `${host}:${port}`).rejects.toThrow(/Unable to bind/);
    }
    expect(await canBind(random!)).toBe(true);
    expect(await canBind(P1, '127.0.0.2')).toBe(true);
    expect(await canBind(P1, '::1')).toBe(true);
    const lan = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    if (lan) expect(await probe(lan, P1)).toBe('refused'); // not on 0.0.0.0
    expect(await probe('127.0.0.1', P2)).toBe('reset'); // session 2's port: held, no agent, key 1 not routed
  });

  it('may not open anything but 127.0.0.1:A: not the endpoint, not another service, not A by another name, no Unix socket; none receives a byte', async () => {
    const c = await connect(s1.grant.privateKey);
    const before = api.requests.length;
    for (const [host, port] of [['127.0.0.1', hub.port], ['127.0.0.1', other.port], ['localhost', api.port], ['::1', api.port], ['127.1', api.port], ['0.0.0.0', api.port], ['127.0.0.1', 22], ['status.hpc-bridge.invalid', 2]] as const) {
      await expect(forwardOut(c, host, port), `${host}:${port}`).rejects.toThrow(/prohibited|denied|failure/i);
    }
    const unix = await new Promise<string>((r) => c.openssh_forwardOutStreamLocal('/run/munge/munge.socket.2', (err) => r(err ? `refused: ${err.message}` : 'opened')));
    expect(unix).toMatch(/^refused/);
    const unixListen = await new Promise<string>((r) => c.openssh_forwardInStreamLocal(join(dir, 'listen.sock'), (err) => r(err ? `refused: ${err.message}` : 'bound')));
    expect(unixListen).toMatch(/^refused/);
    expect(existsSync(join(dir, 'listen.sock'))).toBe(false);
    // OpenSSH -W (stdio forward) and -L to the other service
    const w = await ssh('-W', `127.0.0.1:${other.port}`, `${TUNNEL_USER}@127.0.0.1`);
    expect(w.code).not.toBe(0);
    expect(api.requests.length).toBe(before);
    expect(other.requests).toEqual([]);
    expect((await httpGet(other.port, '/control')).body).toBe('other-service /control'); // it does answer when reached
    expect(other.requests).toEqual(['/control']);
  });

  it("key 2 may not take key 1's port, only its own", async () => {
    const c1 = await connect(s1.grant.privateKey);
    c1.on('tcp connection', (_i, accept) => accept().end('HTTP/1.0 200 OK\r\n\r\nkey-1'));
    await forwardIn(c1, '127.0.0.1', P1);
    const c2 = await connect(s2.grant.privateKey);
    let got = 0;
    c2.on('tcp connection', (_i, accept) => {
      got++;
      accept().end('HTTP/1.0 200 OK\r\n\r\nkey-2');
    });
    await expect(forwardIn(c2, '127.0.0.1', P1)).rejects.toThrow(/Unable to bind/);
    expect((await httpGet(P1, '/')).body).toBe('key-1');
    await forwardIn(c2, '127.0.0.1', P2);
    expect((await httpGet(P2, '/')).body).toBe('key-2');
    expect(got).toBe(1);
  });

  it('no password, keyboard-interactive or none login, no other user name, no stranger key', async () => {
    const stranger = generateTunnelKey();
    await expect(connect(stranger.privateKey)).rejects.toThrow(/authentication methods failed/);
    await expect(sshConnect(hub.port, TUNNEL_USER, '', { privateKey: undefined, password: 'tunnelbot' })).rejects.toThrow(/authentication methods failed/);
    await expect(sshConnect(hub.port, TUNNEL_USER, '', { privateKey: undefined, tryKeyboard: true })).rejects.toThrow(/authentication methods failed/);
    await expect(sshConnect(hub.port, 'root', s1.grant.privateKey)).rejects.toThrow(/authentication methods failed/);
    const kb = await execFileP(['ssh', '-F', '/dev/null', '-p', String(hub.port), '-o', 'BatchMode=yes', '-o', 'PreferredAuthentications=password,keyboard-interactive', '-o', `UserKnownHostsFile=${knownHosts}`, `${TUNNEL_USER}@127.0.0.1`, 'true']);
    expect(kb.code).toBe(255);
    expect(kb.out).toMatch(/Permission denied \(publickey\)/);
  });

  it("OpenSSH's ssh -R holds the forward with the job key; -R on another job's port fails", async () => {
    const bad = await ssh('-N', '-o', 'ExitOnForwardFailure=yes', '-R', `127.0.0.1:${P2}:127.0.0.1:${other.port}`, `${TUNNEL_USER}@127.0.0.1`);
    expect(bad.code).toBe(255);
    expect(bad.out).toMatch(/remote port forwarding failed/);
    const child = execFile('ssh', ['-F', '/dev/null', '-i', keyFile1, '-p', String(hub.port), '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'ExitOnForwardFailure=yes', '-N', '-R', `127.0.0.1:${P1}:127.0.0.1:${nodeSide.port}`, `${TUNNEL_USER}@127.0.0.1`]);
    try {
      await waitFor(async () => (await httpGet(P1, '/openssh', 1000).catch(() => null))?.body === 'node-side /openssh', { timeoutMs: 10_000 });
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('a key is refused once its session ended or its key expired; ending cuts its live connection within 1 s', async () => {
    const s3 = await hub.session();
    const c = await connect(s3.grant.privateKey);
    const t0 = Date.now();
    const closed = new Promise<number>((r) => c.on('close', () => r(Date.now() - t0)));
    hub.tunnels.end(s3.sessionId);
    expect(await closed).toBeLessThan(1000);
    await expect(connect(s3.grant.privateKey)).rejects.toThrow(/authentication methods failed/);
    const s4 = await hub.session();
    hub.tunnels.keys.extend(s4.sessionId, new Date(Date.now() - 1000).toISOString());
    await expect(connect(s4.grant.privateKey)).rejects.toThrow(/authentication methods failed/);
    hub.tunnels.end(s4.sessionId);
  });
});

describe('the hub-side ports against an unprivileged local account', () => {
  it('cannot bind P from grant to end (127.0.0.1, 0.0.0.0, ::) and receives nothing, also while no agent is connected', async () => {
    const s = await hub.session();
    const P = s.grant.remotePort;
    const squat = startSquatter(SQUAT_USER, [P]);
    await squat.trying;
    // the queue wait: no agent yet; the hub's proxy tries P
    await sleep(300);
    expect(await probe('127.0.0.1', P)).toBe('reset');
    // the agent comes and goes (a reconnect)
    const c = track(await sshConnect(hub.port, TUNNEL_USER, s.grant.privateKey));
    c.on('tcp connection', (_i, accept) => accept().end('HTTP/1.0 200 OK\r\n\r\nagent'));
    await forwardIn(c, '127.0.0.1', P);
    expect((await httpGet(P, '/')).body).toBe('agent');
    c.end();
    await waitFor(() => hub.tunnels.state(s.sessionId)?.state === 'down', { timeoutMs: 5_000 });
    for (let i = 0; i < 5; i++) expect(await probe('127.0.0.1', P)).toBe('reset');
    await sleep(300);
    const during = await squat.stop();
    expect(during.attempts).toBeGreaterThan(20);
    expect(during).toMatchObject({ bound: [], connections: 0, bytes: 0 });
    // after the end the port is free again; nothing of the session goes there any more
    hub.tunnels.end(s.sessionId);
    const after = startSquatter(SQUAT_USER, [P]);
    await waitFor(async () => (await probe('127.0.0.1', P)) === 'open', { timeoutMs: 5_000 });
    const r = await after.stop();
    expect(r.bound).toContain(`127.0.0.1:${P}`);
  });

  it('with 90% of a range held by that account, new sessions still get the other ports; the squatter receives nothing', async () => {
    const base = 20000 + Math.floor(Math.random() * 30000);
    const range = { start: base, end: base + 49 };
    const squat = startSquatter(SQUAT_USER, Array.from({ length: 45 }, (_, i) => base + i), { hold: true });
    const held = await squat.held;
    expect(held.length).toBeGreaterThanOrEqual(40);
    const e = await startTestEndpoint({ apiPort: api.port, ports: range });
    try {
      const free = 50 - held.length;
      const sessions = [];
      for (let i = 0; i < free; i++) sessions.push(await e.session());
      const got = sessions.map((s) => s.grant.remotePort);
      expect(new Set(got).size).toBe(free);
      for (const p of got) expect(held).not.toContain(p);
      await expect(e.session()).rejects.toThrow(new RegExp(`no free hub-side port in ${base}-${base + 49}: ${free} held by live sessions, ${held.length} bound by other programs`));
      expect(e.log()).toMatch(/ports of the tunnel range are held by other programs; skipped/);
      const r = await squat.stop();
      expect(r).toMatchObject({ connections: 0, bytes: 0 });
    } finally {
      await e.close();
      await squat.stop().catch(() => null);
    }
  });
});

describe('many agents', () => {
  it('200 agents connecting at once: all 200 up, each P answering through its own agent', async () => {
    const base = 30000 + Math.floor(Math.random() * 25000);
    const ep = await startTestEndpoint({ apiPort: api.port, ports: { start: base, end: base + 299 } });
    const clients: TunnelClient[] = [];
    try {
      const sessions = await Promise.all(Array.from({ length: 200 }, () => ep.session()));
      const t0 = Date.now();
      for (const s of sessions) {
        const c = new TunnelClient({ spec: s.spec, privateKey: s.grant.privateKey, target: { host: '127.0.0.1', port: nodeSide.port }, onState: () => {}, say: () => {} });
        clients.push(c);
        c.start();
      }
      await Promise.all(clients.map((c) => c.waitUp(60_000)));
      await waitFor(() => sessions.every((s) => ep.tunnels.isUp(s.sessionId)), { timeoutMs: 10_000 });
      console.log(`200 agents up in ${Date.now() - t0} ms (endpoint: ${JSON.stringify(ep.tunnels.stats())})`);
      expect(ep.tunnels.stats()).toMatchObject({ up: 200, authenticated: 200, droppedAtAccept: 0 });
      const bodies = await Promise.all(sessions.map((s) => httpGet(s.grant.remotePort, `/${s.sessionId}`)));
      expect(bodies.every((b, i) => b.body === `node-side /${sessions[i]!.sessionId}`)).toBe(true);
    } finally {
      await Promise.all(clients.map((c) => c.stop()));
      await ep.close();
    }
  });
});

// The same cases for both agents a job can have: start-env's ssh2 agent, and OpenSSH's ssh
// held by the job launcher (hpc-wrappers/job-launcher/ssh_tunnel.py; falls back to start-env
// only without python3 or ssh, both of which this machine has).
describe.each([
  ['start-env (ssh2) from the built bundle', 'start-env'],
  ["the job launcher (OpenSSH's ssh)", 'launcher'],
] as const)('the compute-side agent: %s, against the endpoint', (_name, runner) => {
  let nodeDir: string;
  let bundle: string;
  let relay: TcpRelay;
  let s: Awaited<ReturnType<TestEndpoint['session']>>;
  const agents: Agent[] = [];
  const keyBody = (k: string) => k.split('\n')[2]!; // a line of the secret base64
  /** The launcher's directories for ssh (key while logging in, known_hosts, sockets). */
  const launcherDirs = (a: Agent) => readdirSync(a.tmpDir).filter((f) => f.startsWith('hpcw-tunnel-'));

  /** No process has the private key in its argv; the server's env does not hold it either. */
  function assertKeyNotInProcesses(k: string): void {
    const needle = keyBody(k);
    expect(needle.length).toBeGreaterThan(30);
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      if (Number(pid) === process.pid) continue; // this process is the bridge here: it made the key
      for (const what of ['cmdline', 'environ']) {
        let text = '';
        try {
          text = readFileSync(`/proc/${pid}/${what}`, 'utf8');
        } catch {
          continue;
        }
        expect(text.includes(needle), `/proc/${pid}/${what} holds the tunnel private key`).toBe(false);
      }
    }
  }

  beforeAll(async () => {
    nodeDir = join(dir, 'node');
    // The bundle alone in a directory without node_modules, as on a cluster: ssh2 must work
    // from it without cpu-features or its native crypto binding.
    mkdirSync(join(nodeDir, 'bin'), { recursive: true, mode: 0o755 });
    bundle = join(nodeDir, 'bin', 'hpc-wrap.mjs');
    copyFileSync(join(REPO, 'dist/hpc-wrap.mjs'), bundle);
    relay = await startRelay(hub.port);
    s = await hub.session();
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await relay?.close();
  });

  const agent = (over: Partial<Parameters<typeof startAgent>[0]> = {}) => {
    const a = startAgent({
      workDir: join(nodeDir, 'work'),
      bundle,
      sshPort: relay.port,
      hostKeys: [`[127.0.0.1]:${relay.port} ${hub.tunnels.hostKey.publicKey}`],
      privateKey: s.grant.privateKey,
      remotePort: s.grant.remotePort,
      hubApiPort: api.port,
      keepaliveIntervalSeconds: 1,
      runner,
      ...over,
    });
    agents.push(a);
    return a;
  };

  it('brings the tunnel up before the server starts; hub 127.0.0.1:P reaches the node server, which reaches the hub API', async () => {
    const P = s.grant.remotePort;
    const pushed: string[] = [];
    hub.tunnels.on('status', (id, st) => id === s.sessionId && pushed.push(st.phase));
    const a = agent();
    await agentReady(a);
    expect(a.output()).toContain(`tunnel up: hub 127.0.0.1:${P} → node 127.0.0.1:`);
    expect(a.output().indexOf('tunnel up')).toBeLessThan(a.output().indexOf('starting '));
    expect(a.output().includes('(by the Python launcher)'), a.output()).toBe(runner === 'launcher');
    // the launcher's ssh reads the key from a 0600 file only while it logs in
    expect(launcherDirs(a).length).toBe(runner === 'launcher' ? 1 : 0);
    expect(launcherDirs(a).filter((d) => existsSync(join(a.tmpDir, d, 'key')))).toEqual([]);
    expect(existsSync(join(a.runDir, 'spool', 'secrets.json'))).toBe(false);
    expect(existsSync(join(a.runDir, 'spool')) ? readdirSync(join(a.runDir, 'spool')) : []).toEqual([]);
    assertKeyNotInProcesses(s.grant.privateKey);

    expect(await httpGet(P, '/hello')).toEqual({ status: 200, body: 'node-ok' });
    const env = JSON.parse((await httpGet(P, '/env')).body);
    const apiUrl = new URL(env.api);
    expect(apiUrl.hostname).toBe('127.0.0.1');
    expect(apiUrl.port).not.toBe(String(api.port));
    expect(apiUrl.pathname).toBe('/hub/api');
    expect(env.activity).toBe(`http://127.0.0.1:${apiUrl.port}/hub/api/users/alice/activity`);
    expect(await httpGet(P, '/via-api/users/alice')).toEqual({ status: 200, body: 'hub-api /hub/api/users/alice' });
    expect(a.status()).toMatchObject({ phase: 'listening', host: '127.0.0.1', tunnel: 'up', tunnelLastError: null });
    await waitFor(() => pushed.includes('listening'), { timeoutMs: 5_000, onTimeout: () => `status pushes: ${pushed.join(', ')}` });
    // the notebook listens on the node's loopback only
    const serverPort = a.status()!.port as number;
    expect(await canBind(serverPort)).toBe(false);
    expect(readFileSync('/proc/net/tcp', 'utf8')).toMatch(new RegExp(`0100007F:${serverPort.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A`));
  });

  it('a cut connection shows as down at once and is back within 10 s; a black-holed one is noticed by keepalives', async () => {
    const a = agents[0]!;
    const P = s.grant.remotePort;
    relay.cut();
    const t0 = Date.now();
    await waitFor(() => hub.tunnels.state(s.sessionId)?.state === 'down', { timeoutMs: 5_000, intervalMs: 20 });
    const downMs = Date.now() - t0;
    await waitFor(async () => (await httpGet(P, '/hello', 1_000).catch(() => null))?.body === 'node-ok', {
      timeoutMs: 10_000,
      intervalMs: 100,
      onTimeout: () => `not reachable again within 10 s:\n${a.output()}`,
    });
    const backMs = Date.now() - t0;
    expect(a.output()).toMatch(/tunnel down: .*reconnecting/);
    // the launcher hears "up" on its status channel, a moment after the forward carries traffic
    await waitFor(() => a.output().match(/tunnel up: /g)?.length === 2, { timeoutMs: 2_000, onTimeout: () => a.output() });
    expect(await httpGet(P, '/via-api/again')).toEqual({ status: 200, body: 'hub-api /hub/api/again' });

    relay.blackhole();
    const t1 = Date.now();
    await waitFor(() => hub.tunnels.state(s.sessionId)?.state === 'down', { timeoutMs: 5_000, intervalMs: 20 });
    const silentMs = Date.now() - t1;
    await waitFor(async () => (await httpGet(P, '/hello', 1_000).catch(() => null))?.body === 'node-ok', { timeoutMs: 15_000, intervalMs: 200, onTimeout: () => a.output() });
    await waitFor(() => a.status()?.tunnel === 'up', { timeoutMs: 5_000 });
    assertKeyNotInProcesses(s.grant.privateKey);
    console.log(`tunnel: cut seen in ${downMs} ms, back after ${backMs} ms; black hole seen in ${silentMs} ms, back after ${Date.now() - t1} ms`);
  });

  it('tears the tunnel down when the job ends; P stays the bridge\'s until the session ends', async () => {
    const a = agents[0]!;
    await a.stop();
    expect(launcherDirs(a)).toEqual([]);
    expect(a.output()).toMatch(/the server (exited with status 0|was killed by SIGTERM)/);
    expect(a.status()).toMatchObject({ phase: 'exited', tunnel: 'down' });
    await waitFor(() => hub.tunnels.state(s.sessionId)?.state === 'down', { timeoutMs: 5_000 });
    expect(await canBind(s.grant.remotePort)).toBe(false);
    hub.tunnels.end(s.sessionId);
    await waitFor(() => canBind(s.grant.remotePort), { timeoutMs: 5_000, onTimeout: () => `hub port ${s.grant.remotePort} still bound after the session ended` });
  });

  it("refuses an endpoint whose host key is not the one the bridge sent, with a clear message; the server never starts", async () => {
    const s2 = await hub.session();
    const wrongHostKey = `[127.0.0.1]:${relay.port} ${generateTunnelKey().publicKey}`;
    const a = agent({ hostKeys: [wrongHostKey], privateKey: s2.grant.privateKey, remotePort: s2.grant.remotePort });
    const code = await a.exited;
    expect(code).not.toBe(0);
    expect(a.output()).toMatch(/REFUSED the hub's SSH host key at 127\.0\.0\.1:\d+: it presented ssh-ed25519 SHA256:/);
    expect(a.output()).not.toContain('starting ');
    expect(a.status()).toMatchObject({ phase: 'exited', tunnel: 'down' });
    expect(String(a.status()!.message)).toMatch(/REFUSED/);
    expect(existsSync(join(a.runDir, 'spool', 'secrets.json'))).toBe(false);
    expect(hub.tunnels.isUp(s2.sessionId)).toBe(false);
  });
});
