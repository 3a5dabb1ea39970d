// `hpc-bridge try` against a running bridge whose tunnel is ON, all on loopback: the real
// bundles (dist/hpc-bridge.mjs serve with its own ssh2 tunnel endpoint, dist/hpc-wrap.mjs
// on the fork scheduler, whose job runs the real tunnel agent). The stand-in server is
// reached only through the hub-side port P the bridge holds; try says when the tunnel came
// up (before ready), and afterwards the session is stopped, its job over and P closed.
// (The same against real Slurm as a service account: test/system/tunnel-sessions.test.ts.)
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as httpServer, type Server } from 'node:http';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

const REPO = resolve(import.meta.dirname, '../../..');
const BRIDGE = join(REPO, 'dist/hpc-bridge.mjs');
const WRAP = join(REPO, 'dist/hpc-wrap.mjs');
let dir: string;
let bridgeYaml: string;
let bridgePort: number;
let range: { start: number; end: number };
let serve: ChildProcess | null = null;
let hubApi: Server;

const freePort = () =>
  new Promise<number>((r) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => r(port));
    });
  });

/** A TCP connect to 127.0.0.1:port: 'open' or the error code. */
const knock = (port: number) =>
  new Promise<string>((r) => {
    const s = connect(port, '127.0.0.1', () => (s.destroy(), r('open')));
    s.on('error', (e: NodeJS.ErrnoException) => r(e.code ?? e.message));
  });

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [BRIDGE, '--config', bridgeYaml, ...args], { timeout: 120_000, env: { ...process.env, HPC_BRIDGE_CONFIG: '' } }, (err, stdout, stderr) =>
      res({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

beforeAll(async () => {
  for (const b of [BRIDGE, WRAP]) if (!existsSync(b)) throw new Error(`${b} is missing: run npm run build first`);
  dir = mkdtempSync(join(tmpdir(), 'try-tunnel-'));
  mkdirSync(join(dir, 'state'), { mode: 0o700 });
  // JupyterHub's API as the tunnel's node end forwards to it (try itself never calls it).
  hubApi = httpServer((_req, res) => res.end('{}'));
  await new Promise<void>((r) => hubApi.listen(0, '127.0.0.1', r));
  const hpcYaml = join(dir, 'hpc-wrap.yaml');
  writeFileSync(hpcYaml, stringify({ workDir: join(dir, 'work'), scheduler: { kind: 'fork' } }));
  bridgePort = await freePort();
  const base = 30000 + Math.floor(Math.random() * 25000);
  range = { start: base, end: base + 9 };
  bridgeYaml = join(dir, 'hub-bridge.yaml');
  writeFileSync(
    bridgeYaml,
    stringify({
      listen: { host: '127.0.0.1', port: bridgePort },
      apiTokenFile: join(dir, 'state', 'api-token'),
      stateDb: join(dir, 'state', 'bridge.sqlite'),
      hubService: { enabled: false },
      hubApiUrl: `http://127.0.0.1:${(hubApi.address() as { port: number }).port}/hub/api`,
      cluster: { transport: { kind: 'local' }, hpcWrap: [process.execPath, WRAP, '--config', hpcYaml] },
      status: { intervalSeconds: 1, startingIntervalSeconds: 0.5, probeTimeoutSeconds: 2 },
      ports: range,
      tunnel: {
        enabled: true,
        listen: { host: '127.0.0.1', port: await freePort() },
        publicHost: '127.0.0.1',
        hostKeyFile: join(dir, 'state', 'tunnel-host-key'),
      },
      profiles: [{ name: 'small', displayName: 'Small', resources: { cpus: 1, walltime: '00:10:00' } }],
    }),
  );
  serve = spawn(process.execPath, [BRIDGE, '--config', bridgeYaml, 'serve'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  serve.stderr!.on('data', (d) => (log += String(d)));
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`bridge did not start: ${log}`)), 60_000);
    serve!.stderr!.on('data', () => log.includes('listening on') && (clearTimeout(t), res()));
  });
}, 90_000);

afterAll(async () => {
  if (serve?.pid && serve.exitCode === null) {
    serve.kill('SIGTERM');
    await new Promise((r) => serve!.once('exit', r));
  }
  await new Promise((r) => hubApi?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('hpc-bridge try with the tunnel on', () => {
  it('reaches the stand-in only through the hub-side port, says when the tunnel came up, and leaves no session, job or port behind', async () => {
    const r = await cli(['try', '--user', 'dora', '--timeout', '60']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.split('\n').flatMap((l) => {
      const m = /^\s+\d+\.\d s {2}(\S+) *(.*)$/.exec(l);
      return m ? [{ phase: m[1]!, text: m[2]! }] : [];
    });
    const phases = lines.map((l) => l.phase);
    // The tunnel's own line, with the port the bridge granted from its range, before ready.
    const up = lines.find((l) => l.phase === 'tunnel' && l.text.startsWith('up'));
    expect(up?.text, r.stdout).toMatch(/^up: the hub reaches the server through hub-side port 127\.0\.0\.1:\d+$/);
    const P = Number(/:(\d+)$/.exec(up!.text)![1]);
    expect(P).toBeGreaterThanOrEqual(range.start);
    expect(P).toBeLessThanOrEqual(range.end);
    expect(lines.indexOf(up!)).toBeLessThan(phases.indexOf('ready'));
    // The stand-in answered at P: the bridge's end of the tunnel, not the server's own port.
    const answered = /answers {4}http:\/\/127\.0\.0\.1:(\d+)\/user\/dora\/try-[0-9a-f]{6}\/api from node \S+/.exec(r.stdout);
    expect(answered, r.stdout).not.toBeNull();
    expect(Number(answered![1])).toBe(P);
    expect(phases.at(-1)).toBe('stopped');
    expect(r.stdout).toMatch(/Smoke test passed in \d+\.\d s: submit, start, port, tunnel, readiness and stop all work\./);

    // Cleaned up: the session stopped, its job over (the fork supervisor recorded its end), P closed.
    const token = readFileSync(join(dir, 'state', 'api-token'), 'utf8').trim();
    const res = await fetch(`http://127.0.0.1:${bridgePort}/v1/sessions?user=dora`, { headers: { Authorization: `Bearer ${token}` } });
    const { sessions } = (await res.json()) as { sessions: { state: string; jobId: string | null }[] };
    expect(sessions.map((s) => s.state)).toEqual(['stopped']);
    const jobId = sessions[0]!.jobId;
    expect(jobId).toBeTruthy();
    await expect.poll(() => existsSync(join(dir, 'work', 'fork', jobId!, 'exit.json')), { timeout: 10_000 }).toBe(true);
    expect(await knock(P)).toBe('ECONNREFUSED');
  }, 150_000);
});
