// `hpc-bridge try` against a running bridge whose tunnel is ON, all on loopback: the real
// bundles (dist/hpc-bridge.mjs serve with its own ssh2 tunnel endpoint, dist/hpc-wrap.mjs
// on the fork scheduler, whose job runs the real tunnel agent). The stand-in server is
// reached only through the hub-side port P the bridge holds; try says when the tunnel came
// up (before ready), and afterwards the session is stopped, its job over and P closed.
// (The same against real Slurm as a service account: test/system/tunnel-sessions.test.ts.)
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as httpServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../../system/harness/ports.js';
import { runNode } from '../../support/run-node.js';

const REPO = resolve(import.meta.dirname, '../../..');
const BRIDGE = join(REPO, 'dist/hpc-bridge.mjs');
const WRAP = join(REPO, 'dist/hpc-wrap.mjs');
let dir: string;
let hubApi: Server;
const bridges: Bridge[] = [];

interface Bridge {
  yaml: string;
  port: number;
  state: string;
  range: { start: number; end: number };
  serve: ChildProcess;
}

/** A TCP connect to 127.0.0.1:port: 'open' or the error code. */
const knock = (port: number) =>
  new Promise<string>((r) => {
    const s = connect(port, '127.0.0.1', () => (s.destroy(), r('open')));
    s.on('error', (e: NodeJS.ErrnoException) => r(e.code ?? e.message));
  });

const cli = (b: Bridge, args: string[]) => runNode([BRIDGE, '--config', b.yaml, ...args], { timeoutMs: 120_000, env: { ...process.env, HPC_BRIDGE_CONFIG: '' } });

/** A bridge (its own process, state and tunnel endpoint) on the fork scheduler; `publicPort` is where the jobs' agents are told to connect. */
async function startBridge(name: string, publicPort?: number): Promise<Bridge> {
  const home = join(dir, name);
  const state = join(home, 'state');
  mkdirSync(state, { recursive: true, mode: 0o700 });
  const hpcYaml = join(home, 'hpc-wrap.yaml');
  writeFileSync(hpcYaml, stringify({ workDir: join(home, 'work'), scheduler: { kind: 'fork' } }));
  const port = await freePort();
  const base = 30000 + Math.floor(Math.random() * 25000);
  const range = { start: base, end: base + 9 };
  const yaml = join(home, 'hub-bridge.yaml');
  writeFileSync(
    yaml,
    stringify({
      listen: { host: '127.0.0.1', port },
      apiTokenFile: join(state, 'api-token'),
      stateDb: join(state, 'bridge.sqlite'),
      hubService: { enabled: false },
      hubApiUrl: `http://127.0.0.1:${(hubApi.address() as { port: number }).port}/hub/api`,
      cluster: { transport: { kind: 'local' }, hpcWrap: [process.execPath, WRAP, '--config', hpcYaml] },
      status: { intervalSeconds: 1, startingIntervalSeconds: 0.5, probeTimeoutSeconds: 2 },
      ports: range,
      tunnel: {
        enabled: true,
        listen: { host: '127.0.0.1', port: await freePort() },
        publicHost: '127.0.0.1',
        ...(publicPort ? { publicPort } : {}),
        hostKeyFile: join(state, 'tunnel-host-key'),
      },
      profiles: [{ name: 'small', displayName: 'Small', resources: { cpus: 1, walltime: '00:10:00' } }],
    }),
  );
  const serve = spawn(process.execPath, [BRIDGE, '--config', yaml, 'serve'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const b: Bridge = { yaml, port, state, range, serve };
  bridges.push(b);
  let log = '';
  serve.stderr!.on('data', (d) => (log += String(d)));
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`bridge did not start: ${log}`)), 60_000);
    serve.stderr!.on('data', () => log.includes('listening on') && (clearTimeout(t), res()));
  });
  return b;
}

/** The user's sessions as the bridge lists them. */
async function sessionsOf(b: Bridge, user: string): Promise<{ state: string; jobId: string | null }[]> {
  const token = readFileSync(join(b.state, 'api-token'), 'utf8').trim();
  const res = await fetch(`http://127.0.0.1:${b.port}/v1/sessions?user=${user}`, { headers: { Authorization: `Bearer ${token}` } });
  return ((await res.json()) as { sessions: { state: string; jobId: string | null }[] }).sessions;
}

/** The phase lines of try's output. */
const phaseLines = (stdout: string) =>
  stdout.split('\n').flatMap((l) => {
    const m = /^\s+\d+\.\d s {2}(\S+) *(.*)$/.exec(l);
    return m ? [{ phase: m[1]!, text: m[2]! }] : [];
  });

beforeAll(async () => {
  for (const b of [BRIDGE, WRAP]) if (!existsSync(b)) throw new Error(`${b} is missing: run npm run build first`);
  dir = mkdtempSync(join(tmpdir(), 'try-tunnel-'));
  // JupyterHub's API as the tunnel's node end forwards to it (try itself never calls it).
  hubApi = httpServer((_req, res) => res.end('{}'));
  await new Promise<void>((r) => hubApi.listen(0, '127.0.0.1', r));
});

afterAll(async () => {
  for (const b of bridges) {
    if (b.serve.exitCode !== null) continue;
    b.serve.kill('SIGTERM');
    await new Promise((r) => b.serve.once('exit', r));
  }
  await new Promise((r) => hubApi?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('hpc-bridge try with the tunnel on', () => {
  it('reaches the stand-in only through the hub-side port, says when the tunnel came up, and leaves no session, job or port behind', async () => {
    const b = await startBridge('ok');
    const r = await cli(b, ['try', '--user', 'dora', '--timeout', '60']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const lines = phaseLines(r.stdout);
    const phases = lines.map((l) => l.phase);
    // The tunnel's own line, with the port the bridge granted from its range, before ready.
    const up = lines.find((l) => l.phase === 'tunnel' && l.text.startsWith('up'));
    expect(up?.text, r.stdout).toMatch(/^up: the hub reaches the server through hub-side port 127\.0\.0\.1:\d+$/);
    const P = Number(/:(\d+)$/.exec(up!.text)![1]);
    expect(P).toBeGreaterThanOrEqual(b.range.start);
    expect(P).toBeLessThanOrEqual(b.range.end);
    expect(lines.indexOf(up!)).toBeLessThan(phases.indexOf('ready'));
    // The stand-in answered at P: the bridge's end of the tunnel, not the server's own port.
    const answered = /answers {4}http:\/\/127\.0\.0\.1:(\d+)\/user\/dora\/try-[0-9a-f]{6}\/api from node \S+/.exec(r.stdout);
    expect(answered, r.stdout).not.toBeNull();
    expect(Number(answered![1])).toBe(P);
    expect(phases.at(-1)).toBe('stopped');
    expect(r.stdout).toMatch(/Smoke test passed in \d+\.\d s: submit, start, port, tunnel, readiness and stop all work\./);

    // Cleaned up: the session stopped, its job over (the fork supervisor recorded its end), P closed.
    const sessions = await sessionsOf(b, 'dora');
    expect(sessions.map((s) => s.state)).toEqual(['stopped']);
    const jobId = sessions[0]!.jobId;
    expect(jobId).toBeTruthy();
    await expect.poll(() => existsSync(join(dir, 'ok', 'work', 'fork', jobId!, 'exit.json')), { timeout: 10_000 }).toBe(true);
    expect(await knock(P)).toBe('ECONNREFUSED');
  }, 150_000);

  it("an agent that cannot reach the bridge's endpoint: the timeout says the tunnel is waiting and where to look, exit 1, and the session and job are stopped", async () => {
    const b = await startBridge('unreachable', await freePort()); // nothing listens where the agents are sent
    const r = await cli(b, ['try', '--user', 'emil', '--timeout', '6']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const lines = phaseLines(r.stdout);
    expect(lines.some((l) => l.phase === 'tunnel' && l.text.startsWith('waiting for the agent on the node to connect (hub-side port 127.0.0.1:'))).toBe(true);
    expect(lines.some((l) => l.phase === 'tunnel' && l.text.startsWith('up'))).toBe(false);
    expect(r.stderr).toMatch(/^hpc-bridge try: FAILED: not ready after 6 s, still \w+: .*\(the tunnel is waiting: the job's output\.log says whether its agent reached tunnel\.publicHost:publicPort; docs\/tunnel\.md\)$/m);
    expect(lines.map((l) => l.phase).slice(-2)).toEqual(['FAILED', 'stopped']);
    const sessions = await sessionsOf(b, 'emil');
    expect(sessions.map((s) => s.state)).toEqual(['stopped']);
    // The job ended on the stop's SIGTERM (the fork supervisor, which a SIGKILL after the grace
    // period would take with it, recorded the end), saying so; it did not wait for its agent.
    await expect.poll(() => existsSync(join(dir, 'unreachable', 'work', 'fork', sessions[0]!.jobId!, 'exit.json')), { timeout: 10_000 }).toBe(true);
    const sessionDir = join(dir, 'unreachable', 'work', 'users', 'emil', 'sessions');
    const output = readFileSync(join(sessionDir, readdirSync(sessionDir)[0]!, 'output.log'), 'utf8');
    // the agent said why (the job launcher's OpenSSH ssh here; start-env's ssh2 agent says "connect ECONNREFUSED")
    expect(output).toMatch(/tunnel: (connect ECONNREFUSED|ssh: connect to host 127\.0\.0\.1 port \d+: Connection refused)/);
    expect(output).toContain('received SIGTERM while the environment step "tunnel" was preparing; the server was not started');
  }, 150_000);
});
