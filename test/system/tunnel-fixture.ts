// Helpers for the tunnel system tests and benchmarks: ssh2 client helpers, a stand-in for
// the hub API, the compute-side agent (start-env from the built hpc-wrap bundle, with a
// spool as startjob writes it), and a port squatter running as an unprivileged account.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import ssh2 from 'ssh2';
import { stringify } from 'yaml';
import { freePort, terminate, waitFor } from './harness/index.js';
import { launcherProgram } from '../../hpc-wrappers/job-launcher/launcher-script.js';

export const REPO = resolve(import.meta.dirname, '../..');
export const TUNNEL_USER = 'tunnelbot';
export const NODE_SERVER = join(REPO, 'test/fixtures/tunnel-node-server.mjs');
export const SQUATTER = join(REPO, 'test/fixtures/port-squatter.mjs');

// ---- ssh2 helpers ---------------------------------------------------------------------

export function sshConnect(port: number, user: string, privateKey: string, extra: Partial<ssh2.ConnectConfig> = {}): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.once('ready', () => resolve(c));
    c.once('error', (err) => reject(err));
    c.connect({ host: '127.0.0.1', port, username: user, privateKey, readyTimeout: 15_000, ...extra });
  });
}

export function forwardIn(c: ssh2.Client, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => c.forwardIn(host, port, (err) => (err ? reject(err) : resolve())));
}

export function forwardOut(c: ssh2.Client, host: string, port: number): Promise<ssh2.ClientChannel> {
  return new Promise((resolve, reject) => c.forwardOut('127.0.0.1', 40000, host, port, (err, ch) => (err ? reject(err) : resolve(ch))));
}

/** One HTTP/1.0 GET over an open channel; the response body. */
export function httpOverChannel(ch: ssh2.ClientChannel, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    ch.on('data', (d: Buffer) => (data += d.toString('utf8')));
    ch.on('error', reject);
    ch.on('close', () => resolve(data.slice(data.indexOf('\r\n\r\n') + 4)));
    ch.end(`GET ${path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

/** GET http://127.0.0.1:port/path on a fresh connection: { status, body }. */
export function httpGet(port: number, path: string, timeoutMs = 5_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET :${port}${path} timed out`)));
    req.on('error', reject);
  });
}

/** A local HTTP server answering `<name> <path>`, recording the paths it was asked for. */
export async function namedServer(name: string): Promise<{ server: Server; port: number; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    res.end(`${name} ${req.url}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, requests };
}

// ---- the compute-side agent: start-env from the bundle -------------------------------

export interface Agent {
  child: ChildProcess;
  runDir: string;
  /** The job's TMPDIR. */
  tmpDir: string;
  output(): string;
  status(): Record<string, unknown> | null;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export interface AgentOptions {
  workDir: string;
  bundle: string;
  /** Where the agent connects: the endpoint (or a relay in front of it). */
  sshPort: number;
  hostKeys: string[];
  privateKey: string;
  remotePort: number;
  hubApiPort: number;
  command?: string[];
  keepaliveIntervalSeconds?: number;
  user?: string;
  /** Extra node options for start-env (e.g. --cpu-prof in a benchmark). */
  nodeArgs?: string[];
  /**
   * Who runs the job: `start-env` (Node, the ssh2 agent), or `launcher`: the job launcher as
   * a job script runs it (python3 with its program on stdin, OpenSSH's ssh holding the
   * tunnel), start-env's command line as its fallback.
   */
  runner?: 'start-env' | 'launcher';
}

let agents = 0;

/** Writes the spool startjob would (job.json + secrets.json 0600) and runs `hpc-wrap start-env` (or the job launcher) on it. */
export function startAgent(o: AgentOptions): Agent {
  const sid = `s-${String(++agents).padStart(26, 'q')}`;
  const runDir = join(o.workDir, 'users', 'alice', 'sessions', sid);
  mkdirSync(join(runDir, 'spool'), { recursive: true, mode: 0o700 });
  const configPath = join(o.workDir, 'hpc-wrap.yaml');
  writeFileSync(configPath, stringify({ workDir: o.workDir, logging: { file: join(o.workDir, 'hpc-wrap.log') }, scheduler: { kind: 'fork' } }));
  const env = {
    JUPYTERHUB_API_TOKEN: 'hub-token-for-alice',
    JUPYTERHUB_SERVICE_PREFIX: '/user/alice/',
    JUPYTERHUB_API_URL: `http://127.0.0.1:${o.hubApiPort}/hub/api`,
    JUPYTERHUB_ACTIVITY_URL: `http://127.0.0.1:${o.hubApiPort}/hub/api/users/alice/activity`,
  };
  writeFileSync(join(runDir, 'spool', 'secrets.json'), JSON.stringify({ env, tunnelPrivateKey: o.privateKey }), { mode: 0o600 });
  writeFileSync(
    join(runDir, 'spool', 'job.json'),
    JSON.stringify({
      version: 1,
      sessionId: sid,
      user: 'alice',
      serverName: '',
      command: o.command ?? [process.execPath, NODE_SERVER],
      home: null,
      jupyter: { bindAddress: '127.0.0.1', portRange: { start: 50000, end: 59999 } },
      tunnel: {
        host: '127.0.0.1',
        port: o.sshPort,
        user: o.user ?? TUNNEL_USER,
        hostKeys: o.hostKeys,
        remotePort: o.remotePort,
        hubApiPort: o.hubApiPort,
        keepaliveIntervalSeconds: o.keepaliveIntervalSeconds ?? 5,
      },
      logFile: join(o.workDir, 'hpc-wrap.log'),
      runtime: { perUser: false, jobIdVariable: 'HPC_WRAP_TEST_JOB_ID', logLevel: 'info', logFile: join(o.workDir, 'hpc-wrap.log') },
      createdAt: new Date().toISOString(),
    }),
    { mode: 0o600 },
  );
  writeFileSync(join(runDir, 'job.sh'), '#!/bin/sh\n', { mode: 0o700 });
  const startEnv = [process.execPath, ...(o.nodeArgs ?? []), o.bundle, '--config', configPath, 'start-env', '--run-dir', runDir];
  const argv = o.runner === 'launcher' ? ['/usr/bin/python3', '-E', '-s', '-S', '-', '--run-dir', runDir, '--', ...startEnv] : startEnv;
  // the job's own TMPDIR (the launcher keeps ssh's files there), as a scheduler may set one
  const tmpDir = mkdtempSync(join(o.workDir, 'tmp-')); // removed with the work dir
  const child = spawn(argv[0]!, argv.slice(1), { cwd: o.workDir, env: { ...process.env, TMPDIR: tmpDir }, stdio: [o.runner === 'launcher' ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  if (o.runner === 'launcher') child.stdin!.end(launcherProgram());
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return {
    child,
    runDir,
    tmpDir,
    output: () => out,
    status: () => {
      try {
        return JSON.parse(readFileSync(join(runDir, 'status.json'), 'utf8'));
      } catch {
        return null;
      }
    },
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const done = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 10_000))]);
      if (!done && child.pid) await terminate(child.pid, 1_000);
    },
  };
}

/** Waits until the agent reports the tunnel up and the server listening. */
export async function agentReady(a: Agent, timeoutMs = 30_000): Promise<void> {
  await waitFor(() => a.status()?.tunnel === 'up' && a.status()?.phase === 'listening', {
    timeoutMs,
    intervalMs: 100,
    onTimeout: () => `the agent did not come up: status ${JSON.stringify(a.status())}\n${a.output()}`,
  });
}

export { freePort };

// ---- a port squatter as an unprivileged account ----------------------------------------

export interface SquatReport {
  bound: string[];
  /** When each address was bound (epoch ms). */
  boundAt: Record<string, number>;
  attempts: number;
  connections: number;
  bytes: number;
}

export interface Squatter {
  child: ChildProcess;
  /** --hold mode: the ports it got. */
  held: Promise<number[]>;
  /** Resolves once it has tried every port at least once (it keeps trying). */
  trying: Promise<void>;
  /** Stops it (SIGTERM) and returns what it got and received. */
  stop(): Promise<SquatReport>;
}

/** Runs test/fixtures/port-squatter.mjs as `user` (runuser): tries the ports until stopped, or holds them. */
export function startSquatter(user: string, ports: number[], opts: { hold?: boolean; everyMs?: number } = {}): Squatter {
  const argv = [process.execPath, SQUATTER, '--ports', ports.join(','), '--every-ms', String(opts.everyMs ?? 10), ...(opts.hold ? ['--hold'] : [])];
  const child = spawn('runuser', ['-u', user, '--', ...argv], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((r) => child.on('close', () => r()));
  const lines = () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const held = opts.hold
    ? waitFor(() => lines().find((l) => l.held)?.held as number[] | undefined, { timeoutMs: 30_000, intervalMs: 50, onTimeout: () => `the squatter did not report: ${err}` })
    : Promise.resolve([]);
  const trying = opts.hold
    ? held.then(() => undefined)
    : waitFor(() => lines().some((l) => l.trying) || child.exitCode !== null || undefined, { timeoutMs: 30_000, intervalMs: 20, onTimeout: () => `the squatter did not start: ${err}` }).then(() => undefined);
  // awaited by the tests that need them; never an unhandled rejection for those that do not
  held.catch(() => {});
  trying.catch(() => {});
  return {
    child,
    held,
    trying,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      const report = lines().find((l) => Array.isArray(l.bound) && !l.trying);
      if (!report) throw new Error(`the squatter left no report: ${out} ${err}`);
      return report as SquatReport;
    },
  };
}

/** A stand-in for JupyterHub's API (answers `hub-api <path>`), counting requests. */
export async function hubApiStandIn(): Promise<{ server: Server; port: number; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    res.end(`hub-api ${req.url}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, requests };
}
