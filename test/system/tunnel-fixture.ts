// A hub host for tunnel tests and the tunnel benchmark: a real sshd on loopback with the
// Match block of examples/sshd_tunnelbot.conf for a tunnel account, the built
// AuthorizedKeysCommand in a root-owned directory (sshd refuses paths under /tmp), a
// keyset, and a stand-in for the hub API. Plus ssh2 helpers and the compute-side agent
// (start-env from the built hpc-wrap bundle) with a spool as startjob writes it.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import ssh2 from 'ssh2';
import { stringify } from 'yaml';
import { writeKeyset, type TunnelKeyEntry } from '../../hub-bridge/tunnel/keyset-file.js';
import { ensureUser, freePort, startSshd, terminate, waitFor, type Sshd, type UserInfo } from './harness/index.js';

export const REPO = resolve(import.meta.dirname, '../..');
export const TUNNEL_USER = 'hpcbridge-tunnel';
export const NODE_SERVER = join(REPO, 'test/fixtures/tunnel-node-server.mjs');

/**
 * example: the shipped Match block as is (with MaxSessions 0 and ForceCommand);
 * key-options-only: without ForceCommand, MaxSessions, PermitOpen and PermitListen, so
 * that only the options the AuthorizedKeysCommand prints restrict the key.
 */
export type SshdVariant = 'example' | 'key-options-only';

/** The example Match block, rewritten for this test's paths, account and API port. */
export function matchBlock(o: { commandFile: string; keysetFile: string; apiPort: number; variant: SshdVariant }): string[] {
  const text = readFileSync(join(REPO, 'examples/sshd_tunnelbot.conf'), 'utf8')
    .replaceAll('/opt/hpc-bridge/dist/hpc-bridge-authorized-keys.mjs', o.commandFile)
    .replaceAll('/var/lib/hpc-bridge/tunnel-keys.json', o.keysetFile)
    .replaceAll('--owner hpcbridge', '--owner root')
    .replaceAll('PermitOpen 127.0.0.1:8081', `PermitOpen 127.0.0.1:${o.apiPort}`)
    .replaceAll('tunnelbot', TUNNEL_USER);
  const drop = o.variant === 'key-options-only' ? /^(ForceCommand|MaxSessions|PermitOpen|PermitListen)\b/ : /^$/;
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#') && !drop.test(l));
}

export interface HubHost {
  dir: string;
  /** Root-owned, 0755, outside /tmp: the command, the keyset, the subsystem script. */
  cmdDir: string;
  keysetFile: string;
  sshd: Sshd;
  tunnel: UserInfo;
  /** Port of the hub API stand-in (answers `hub-api <path>`). */
  apiPort: number;
  /** Rewrites the keyset with these entries. */
  setKeys(keys: TunnelKeyEntry[]): void;
  stop(): Promise<void>;
}

export async function startHubHost(o: { variant: SshdVariant; subsystemMarker?: string; extraConfig?: string[] }): Promise<HubHost> {
  const tunnel = await ensureUser(TUNNEL_USER);
  const dir = mkdtempSync('/tmp/hpcb-tunnel-');
  const cmdDir = mkdtempSync('/var/lib/hpcb-tunnel-');
  chmodSync(cmdDir, 0o755);
  const commandFile = join(cmdDir, 'hpc-bridge-authorized-keys.mjs');
  copyFileSync(join(REPO, 'dist/hpc-bridge-authorized-keys.mjs'), commandFile);
  chmodSync(commandFile, 0o755);
  const keysetFile = join(cmdDir, 'tunnel-keys.json');
  const api = createServer((req, res) => res.end(`hub-api ${req.url}`));
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  const apiPort = (api.address() as { port: number }).port;
  let keys: TunnelKeyEntry[] = [];
  const setKeys = (k: TunnelKeyEntry[]) => {
    keys = k;
    writeKeyset(keysetFile, { version: 1, apiPort, keys });
  };
  setKeys([]);
  const extra: string[] = [...(o.extraConfig ?? [])];
  if (o.subsystemMarker) {
    const script = join(cmdDir, 'make-marker');
    writeFileSync(script, '#!/bin/sh\n# a subsystem that leaves a marker file: proof that it ran\nexec touch "$1.$(id -un)"\n', { mode: 0o755 });
    extra.push(`Subsystem markersub ${script} ${o.subsystemMarker}`);
  }
  extra.push(...matchBlock({ commandFile, keysetFile, apiPort, variant: o.variant }));
  const sshd = await startSshd({ dir: join(dir, 'sshd'), extraConfig: extra });
  return {
    dir,
    cmdDir,
    keysetFile,
    sshd,
    tunnel,
    apiPort,
    setKeys,
    async stop() {
      await sshd.stop();
      await new Promise((r) => api.close(r));
      rmSync(dir, { recursive: true, force: true });
      rmSync(cmdDir, { recursive: true, force: true });
    },
  };
}

export function keyEntry(publicKey: string, port: number, opts: { expiresInMs?: number; sessionId?: string } = {}): TunnelKeyEntry {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const sid = opts.sessionId ?? `s-${Array.from({ length: 26 }, () => alphabet[Math.floor(Math.random() * 32)]).join('')}`;
  return { publicKey, port, expiresAt: new Date(Date.now() + (opts.expiresInMs ?? 3600_000)).toISOString(), sessionId: sid };
}

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

/** A local HTTP server answering `<name> <path>`. */
export async function namedServer(name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => res.end(`${name} ${req.url}`));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

// ---- the compute-side agent: start-env from the bundle -------------------------------

export interface Agent {
  child: ChildProcess;
  runDir: string;
  output(): string;
  status(): Record<string, unknown> | null;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export interface AgentOptions {
  workDir: string;
  bundle: string;
  sshPort: number;
  hostKeys: string[];
  privateKey: string;
  remotePort: number;
  hubApiPort: number;
  command?: string[];
  keepaliveIntervalSeconds?: number;
}

let agents = 0;

/** Writes the spool startjob would (job.json + secrets.json 0600) and runs `hpc-wrap start-env` on it. */
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
        user: TUNNEL_USER,
        hostKeys: o.hostKeys,
        remotePort: o.remotePort,
        hubApiPort: o.hubApiPort,
        keepaliveIntervalSeconds: o.keepaliveIntervalSeconds ?? 5,
      },
      logFile: join(o.workDir, 'hpc-wrap.log'),
      createdAt: new Date().toISOString(),
    }),
    { mode: 0o600 },
  );
  writeFileSync(join(runDir, 'job.sh'), '#!/bin/sh\n', { mode: 0o700 });
  const child = spawn(process.execPath, [o.bundle, '--config', configPath, 'start-env', '--run-dir', runDir], {
    cwd: o.workDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return {
    child,
    runDir,
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
