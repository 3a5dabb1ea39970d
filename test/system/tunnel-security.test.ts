// The notebook tunnel against a REAL OpenSSH sshd (needs root): what a per-job key can do
// with the shipped Match block (examples/sshd_tunnelbot.conf) and the built
// AuthorizedKeysCommand, and the compute-side agent (start-env from the built hpc-wrap
// bundle) end to end, including a dropped connection.
//
// The tunnel account gets a real login shell (/bin/bash) here on purpose: the restrictions
// must hold without relying on a nologin shell.
import { copyFileSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateTunnelKey, type TunnelKeyPair } from '../../hub-bridge/tunnel/tunnel-keys.js';
import { authorizeKey, ensureUser, freePorts, makeClientKey, waitFor } from './harness/index.js';
import {
  agentReady,
  forwardIn,
  forwardOut,
  httpGet,
  httpOverChannel,
  keyEntry,
  namedServer,
  REPO,
  sshConnect,
  startAgent,
  startHubHost,
  TUNNEL_USER,
  type Agent,
  type HubHost,
  type SshdVariant,
} from './tunnel-fixture.js';

const CONTROL_USER = 'hpcbridge-bench';
const open: ssh2.Client[] = [];
const track = (c: ssh2.Client) => (open.push(c), c);
afterEach(() => {
  for (const c of open.splice(0)) c.end();
});

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Tries a session request; resolves with what sshd did (never throws). */
function trySession(c: ssh2.Client, kind: 'exec' | 'shell' | 'subsystem', arg: string): Promise<string> {
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
    if (kind === 'exec') c.exec(arg, cb);
    else if (kind === 'shell') c.shell(false, cb);
    else c.subsys(arg, cb);
  });
}

let key1: TunnelKeyPair;
let key2: TunnelKeyPair;
let key3: TunnelKeyPair;
let P1: number;
let P2: number;
let P3: number;
let nodeSide: Awaited<ReturnType<typeof namedServer>>;
let other: Awaited<ReturnType<typeof namedServer>>;
const markerBase = `/tmp/tunnel-marker-${process.pid}-${Date.now()}`;
const markers = () => readdirSync('/tmp').filter((f) => f.startsWith(markerBase.slice('/tmp/'.length)));

beforeAll(async () => {
  [key1, key2, key3] = [generateTunnelKey(), generateTunnelKey(), generateTunnelKey()];
  [P1, P2, P3] = (await freePorts(3)) as [number, number, number];
  nodeSide = await namedServer('node-side');
  other = await namedServer('other-service');
});

afterAll(async () => {
  await new Promise((r) => nodeSide?.server.close(r));
  await new Promise((r) => other?.server.close(r));
  for (const m of markers()) rmSync(join('/tmp', m), { force: true });
});

describe.each<SshdVariant>(['example', 'key-options-only'])('a live tunnel key, sshd Match block: %s', (variant) => {
  let hub: HubHost;

  beforeAll(async () => {
    hub = await startHubHost({ variant, subsystemMarker: `${markerBase}-${variant}-sub` });
    hub.setKeys([keyEntry(key1.publicKey, P1), keyEntry(key2.publicKey, P2)]);
  });
  afterAll(async () => {
    for (const c of open.splice(0)) c.end();
    await hub?.stop();
  });

  const connect = (key: TunnelKeyPair) => sshConnect(hub.sshd.port, TUNNEL_USER, key.privateKey).then(track);

  it('may listen on its own hub port P1: a request to 127.0.0.1:P1 reaches the node-side server', async () => {
    const c = await connect(key1);
    c.on('tcp connection', (info, accept) => {
      const ch = accept();
      const sock = tcpConnect(nodeSide.port, '127.0.0.1');
      ch.pipe(sock).pipe(ch);
    });
    await forwardIn(c, '127.0.0.1', P1);
    expect(await httpGet(P1, '/through-p1')).toEqual({ status: 200, body: 'node-side /through-p1' });
  });

  it('may open the hub API port A (direct-tcpip)', async () => {
    const c = await connect(key1);
    expect(await httpOverChannel(await forwardOut(c, '127.0.0.1', hub.apiPort), '/hub/api/x')).toBe('hub-api /hub/api/x');
  });

  it('no shell, exec or subsystem request runs (the marker files never appear)', async () => {
    const c = await connect(key1);
    const results = {
      exec: await trySession(c, 'exec', `touch ${markerBase}-${variant}-exec`),
      shell: await trySession(c, 'shell', `touch ${markerBase}-${variant}-shell`),
      subsystem: await trySession(c, 'subsystem', 'markersub'),
    };
    await sleep(500);
    expect(markers().filter((m) => m.includes(`-${variant}-`)), JSON.stringify(results)).toEqual([]);
    // example: MaxSessions 0 refuses the session channel itself. key-options-only: the channel
    // opens, but the key's command="/usr/sbin/nologin" replaces exec, shell AND subsystem.
    const expected = variant === 'example' ? /^refused: / : /^ran, exit 1: This account is currently not available\.$/;
    for (const r of Object.values(results)) expect(r).toMatch(expected);
    // the connection still forwards afterwards
    expect(await httpOverChannel(await forwardOut(c, '127.0.0.1', hub.apiPort), '/after')).toBe('hub-api /after');
  });

  it('may not listen anywhere else: P2 (another job), a random port, 0.0.0.0:P1', async () => {
    const c = await connect(key1);
    const [random] = await freePorts(1);
    await expect(forwardIn(c, '127.0.0.1', P2)).rejects.toThrow(/Unable to bind/);
    await expect(forwardIn(c, '127.0.0.1', random!)).rejects.toThrow(/Unable to bind/);
    await expect(forwardIn(c, '0.0.0.0', P1)).rejects.toThrow(/Unable to bind/);
    expect(await canBind(P2)).toBe(true);
    expect(await canBind(random!)).toBe(true);
  });

  it('may not open anything but 127.0.0.1:A: not sshd itself, not another local service, not A by another name', async () => {
    const c = await connect(key1);
    await expect(forwardOut(c, '127.0.0.1', hub.sshd.port)).rejects.toThrow(/prohibited|denied|failure/i);
    await expect(forwardOut(c, '127.0.0.1', other.port)).rejects.toThrow(/prohibited|denied|failure/i);
    await expect(forwardOut(c, 'localhost', hub.apiPort)).rejects.toThrow(/prohibited|denied|failure/i);
  });

  it("key 2 may not take key 1's port, only its own", async () => {
    const c = await connect(key2);
    expect(await canBind(P1)).toBe(true); // P1 is free: only the key options stop key 2
    await expect(forwardIn(c, '127.0.0.1', P1)).rejects.toThrow(/Unable to bind/);
    await forwardIn(c, '127.0.0.1', P2);
  });

  it('a key is refused once its entry expired or was removed; a keyset others can write makes every key invalid', async () => {
    hub.setKeys([keyEntry(key1.publicKey, P1, { expiresInMs: -1000 }), keyEntry(key2.publicKey, P2)]);
    await expect(connect(key1)).rejects.toThrow(/authentication methods failed/);
    (await connect(key2)).end();
    hub.setKeys([keyEntry(key2.publicKey, P2)]);
    await expect(connect(key1)).rejects.toThrow(/authentication methods failed/);
    chmodSync(hub.keysetFile, 0o666);
    try {
      await expect(connect(key2)).rejects.toThrow(/authentication methods failed/);
    } finally {
      chmodSync(hub.keysetFile, 0o644);
    }
    (await connect(key2)).end();
    hub.setKeys([keyEntry(key1.publicKey, P1), keyEntry(key2.publicKey, P2)]);
  });

  it('control: an ordinary account on the same sshd DOES run exec and the subsystem (the markers work)', async () => {
    await ensureUser(CONTROL_USER);
    const ctl = await makeClientKey(join(hub.dir, `ctl-${variant}`));
    await authorizeKey(CONTROL_USER, ctl.publicKey);
    const c = track(await sshConnect(hub.sshd.port, CONTROL_USER, readFileSync(ctl.privateKeyFile, 'utf8')));
    expect(await trySession(c, 'exec', `touch ${markerBase}-ctl-${variant}-exec`)).toMatch(/^ran, exit 0/);
    expect(await trySession(c, 'subsystem', 'markersub')).toMatch(/^ran, exit 0/);
    await waitFor(() => markers().filter((m) => m.includes(`-ctl-${variant}-exec`) || m.endsWith(`-${variant}-sub.${CONTROL_USER}`)).length === 2, {
      timeoutMs: 5_000,
      onTimeout: () => `markers: ${markers().join(', ')}`,
    });
  });
});

describe('the compute-side agent (start-env from the built bundle) against the example Match block', () => {
  let hub: HubHost;
  let dir: string;
  let bundle: string;
  const agents: Agent[] = [];
  const keyBody = (k: TunnelKeyPair) => k.privateKey.split('\n')[2]!; // a line of the secret base64

  /** No process has the private key in its argv; the server's env does not hold it either. */
  function assertKeyNotInProcesses(k: TunnelKeyPair): void {
    const needle = keyBody(k);
    expect(needle.length).toBeGreaterThan(30);
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
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
    hub = await startHubHost({ variant: 'example' });
    hub.setKeys([keyEntry(key3.publicKey, P3)]);
    dir = join(hub.dir, 'node');
    // The bundle alone in a directory without node_modules, as on a cluster: ssh2 must work
    // from it without cpu-features or its native crypto binding.
    mkdirSync(join(dir, 'bin'), { recursive: true, mode: 0o755 });
    bundle = join(dir, 'bin', 'hpc-wrap.mjs');
    copyFileSync(join(REPO, 'dist/hpc-wrap.mjs'), bundle);
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await hub?.stop();
  });

  const agent = (over: Partial<Parameters<typeof startAgent>[0]> = {}) => {
    const a = startAgent({
      workDir: join(dir, 'work'),
      bundle,
      sshPort: hub.sshd.port,
      hostKeys: [hub.sshd.knownHostsLine()],
      privateKey: key3.privateKey,
      remotePort: P3,
      hubApiPort: hub.apiPort,
      ...over,
    });
    agents.push(a);
    return a;
  };

  it('brings the tunnel up before the server starts; hub 127.0.0.1:P reaches the node server, which reaches the hub API', async () => {
    const a = agent();
    await agentReady(a);
    expect(a.output()).toContain(`tunnel up: hub 127.0.0.1:${P3} → node 127.0.0.1:`);
    expect(a.output().indexOf('tunnel up')).toBeLessThan(a.output().indexOf('starting '));
    expect(existsSync(join(a.runDir, 'spool', 'secrets.json'))).toBe(false);
    expect(existsSync(join(a.runDir, 'spool')) ? readdirSync(join(a.runDir, 'spool')) : []).toEqual([]);
    assertKeyNotInProcesses(key3);

    expect(await httpGet(P3, '/hello')).toEqual({ status: 200, body: 'node-ok' });
    const env = JSON.parse((await httpGet(P3, '/env')).body);
    const api = new URL(env.api);
    expect(api.hostname).toBe('127.0.0.1');
    expect(api.port).not.toBe(String(hub.apiPort));
    expect(api.pathname).toBe('/hub/api');
    expect(env.activity).toBe(`http://127.0.0.1:${api.port}/hub/api/users/alice/activity`);
    expect(await httpGet(P3, '/via-api/users/alice')).toEqual({ status: 200, body: 'hub-api /hub/api/users/alice' });
    expect(a.status()).toMatchObject({ phase: 'listening', host: '127.0.0.1', tunnel: 'up', tunnelLastError: null });
    // the notebook listens on the node's loopback only
    const serverPort = a.status()!.port as number;
    expect(await canBind(serverPort)).toBe(false);
    expect(readFileSync('/proc/net/tcp', 'utf8')).toMatch(new RegExp(`0100007F:${serverPort.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A`));
  });

  it('reconnects after the sshd process serving the tunnel is killed: requests work again within 10 s', async () => {
    const a = agents[0]!;
    const tunnelUid = hub.tunnel.uid;
    const uidOf = (pid: number) => {
      try {
        return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
      } catch {
        return -1;
      }
    };
    const serving = hub.sshd.sessionProcesses().filter((s) => s.descendants.some((p) => uidOf(p) === tunnelUid));
    expect(serving, 'exactly one tunnel connection').toHaveLength(1);
    const t0 = Date.now();
    await hub.sshd.dropConnection(serving[0]!.pid);
    await waitFor(async () => (await httpGet(P3, '/hello', 1_000).catch(() => null))?.body === 'node-ok', {
      timeoutMs: 10_000,
      intervalMs: 100,
      onTimeout: () => `not reachable again within 10 s:\n${a.output()}`,
    });
    const ms = Date.now() - t0;
    expect(ms).toBeLessThan(10_000);
    expect(a.output()).toMatch(/tunnel down: .*reconnecting/);
    expect(a.output().match(/tunnel up: /g)).toHaveLength(2);
    expect(await httpGet(P3, '/via-api/again')).toEqual({ status: 200, body: 'hub-api /hub/api/again' });
    await waitFor(() => a.status()?.tunnel === 'up', { timeoutMs: 5_000 });
    assertKeyNotInProcesses(key3);
    console.log(`tunnel back ${ms} ms after its sshd process was killed`);
  });

  it('tears the tunnel down when the job ends: the hub port is free again', async () => {
    const a = agents[0]!;
    await a.stop();
    expect(a.output()).toMatch(/the server (exited with status 0|was killed by SIGTERM)/);
    expect(a.status()).toMatchObject({ phase: 'exited', tunnel: 'down' });
    await waitFor(() => canBind(P3), { timeoutMs: 5_000, onTimeout: () => `hub port ${P3} still bound after the job ended` });
  });

  it("refuses a hub whose host key is not the one the bridge sent, with a clear message; the server never starts", async () => {
    const wrongHostKey = `[127.0.0.1]:${hub.sshd.port} ${generateTunnelKey().publicKey}`;
    const a = agent({ hostKeys: [wrongHostKey] });
    const code = await a.exited;
    expect(code).not.toBe(0);
    expect(a.output()).toMatch(/REFUSED the hub's SSH host key at 127\.0\.0\.1:\d+: it presented ssh-ed25519 SHA256:/);
    expect(a.output()).not.toContain('starting ');
    expect(a.status()).toMatchObject({ phase: 'exited', tunnel: 'down' });
    expect(String(a.status()!.message)).toMatch(/REFUSED/);
    expect(existsSync(join(a.runDir, 'spool', 'secrets.json'))).toBe(false);
  });
});
