// Debian's JupyterHub 3 (on /usr/bin/python3) in its own directory and ports,
// driven through a service token with an admin-like role.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { hubPaths, renderHubConfig } from './hub-config.js';
import { freePorts } from './ports.js';
import { belongsToDir, isAlive, killProcessesInDir, readPidFile, spawnDaemon, tail, terminate, waitFor } from './proc.js';

export interface HubOptions {
  dir: string;
  /** Python lines appended to jupyterhub_config.py (spawner_class and its settings). */
  spawnerClassConfig?: string;
  /** Joined into PYTHONPATH for the hub (where the spawner module lives). */
  pythonPath?: string[];
  /** Extra environment for the hub process. */
  env?: Record<string, string>;
  /** c.Spawner.poll_interval in seconds (default 5). */
  pollInterval?: number;
  /** c.Spawner.start_timeout in seconds (default 120). */
  startTimeout?: number;
  /** c.Spawner.http_timeout in seconds (default 60). */
  httpTimeout?: number;
  /** c.JupyterHub.cleanup_servers (default true: the hub stops all servers when it stops). */
  cleanupServers?: boolean;
  logLevel?: 'DEBUG' | 'INFO' | 'WARN';
  python?: string;
  readyTimeoutMs?: number;
}

export interface ApiResponse {
  status: number;
  text: string;
  /** Parsed JSON body, or undefined. */
  json: any;
}

export interface ProgressEvent {
  progress?: number;
  message?: string;
  ready?: boolean;
  failed?: boolean;
  url?: string;
  [k: string]: unknown;
}

export interface Hub {
  dir: string;
  /** Public (proxy) URL, e.g. http://127.0.0.1:PORT */
  url: string;
  /** `${url}/hub/api` */
  apiUrl: string;
  /** Token of the harness service (role harness-admin). */
  token: string;
  ports: { proxy: number; hub: number; proxyApi: number };
  pid: number;
  /** `path` is relative to /hub/api, e.g. '/users/alice/server'. */
  api(method: string, apiPath: string, body?: unknown): Promise<ApiResponse>;
  /** Creates the hub user if needed, POSTs its server; waits (default) until not pending. */
  startServer(user: string, opts?: { wait?: boolean; timeoutMs?: number }): Promise<{ status: number; ready: boolean; model: any }>;
  stopServer(user: string, opts?: { wait?: boolean; timeoutMs?: number }): Promise<{ status: number }>;
  /** The events of /users/NAME/server/progress until the stream ends or timeoutMs. */
  progress(user: string, opts?: { timeoutMs?: number }): Promise<ProgressEvent[]>;
  /** GET `${url}/user/NAME/<path>` with the service token; redirects are not followed. */
  userProxyGet(user: string, userPath: string): Promise<ApiResponse>;
  logs(): string;
  /**
   * Stops hub and proxy by pid. Unless keepServers, then also kills whatever still
   * runs with its cwd in dir (e.g. simple-spawner servers). keepServers with
   * cleanupServers: false simulates a hub outage whose servers live on.
   */
  stop(opts?: { keepServers?: boolean }): Promise<void>;
}

interface Info {
  ports: { proxy: number; hub: number; proxyApi: number };
  token: string;
  pid: number;
}

export async function startHub(opts: HubOptions): Promise<Hub> {
  const dir = path.resolve(opts.dir);
  const p = hubPaths(dir);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  mkdirSync(p.homes, { recursive: true });
  // A restart in the same dir reuses ports and token: servers that outlived the hub
  // (cleanupServers: false) still know the old hub API URL.
  const prev = existsSync(p.info) ? (JSON.parse(readFileSync(p.info, 'utf8')) as Info) : null;
  if (prev && isAlive(prev.pid) && belongsToDir(prev.pid, dir)) throw new Error(`a hub already runs in ${dir}`);
  const [proxy, hubPort, proxyApi] = prev
    ? [prev.ports.proxy, prev.ports.hub, prev.ports.proxyApi]
    : await freePorts(3);
  const token = prev?.token ?? randomBytes(32).toString('hex');
  writeFileSync(
    p.config,
    renderHubConfig({
      dir,
      port: proxy!,
      hubPort: hubPort!,
      proxyApiPort: proxyApi!,
      token,
      serviceName: 'harness',
      pollInterval: opts.pollInterval ?? 5,
      startTimeout: opts.startTimeout ?? 120,
      httpTimeout: opts.httpTimeout ?? 60,
      cleanupServers: opts.cleanupServers ?? true,
      logLevel: opts.logLevel ?? 'INFO',
      spawnerClassConfig: opts.spawnerClassConfig ?? '',
    }),
    { mode: 0o600 },
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_PATH: ['/usr/share/nodejs', process.env.NODE_PATH].filter(Boolean).join(':'),
    ...(opts.pythonPath?.length ? { PYTHONPATH: opts.pythonPath.join(':') } : {}),
    ...opts.env,
  };
  const python = opts.python ?? '/usr/bin/python3';
  const pid = spawnDaemon([python, '-m', 'jupyterhub', '-f', p.config], { cwd: dir, env, logFile: p.log });
  const info: Info = { ports: { proxy: proxy!, hub: hubPort!, proxyApi: proxyApi! }, token, pid };
  writeFileSync(p.info, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
  const hub = attachHub(dir);
  try {
    await waitFor(
      async () => {
        if (!isAlive(pid)) throw new Error(`jupyterhub exited:\n${tail(p.log, 40)}`);
        // the hub itself first (asking the proxy earlier only makes it log errors)
        const direct = `http://127.0.0.1:${hubPort}/hub/api/`;
        const d = await fetch(direct, { signal: AbortSignal.timeout(2_000) }).catch(() => null);
        if (d?.status !== 200) return false;
        const r = await fetch(`${hub.apiUrl}/`, { signal: AbortSignal.timeout(2_000) }).catch(() => null);
        if (r?.status !== 200) return false;
        return (await hub.api('GET', '/users')).status === 200;
      },
      {
        timeoutMs: opts.readyTimeoutMs ?? 60_000,
        intervalMs: 300,
        onTimeout: () => `jupyterhub did not answer on ${hub.apiUrl}:\n${tail(p.log, 40)}`,
      },
    );
  } catch (e) {
    await hub.stop().catch(() => {});
    throw e;
  }
  return hub;
}

async function request(url: string, token: string, method: string, body?: unknown, manual = false): Promise<ApiResponse> {
  const headers: Record<string, string> = { Authorization: `token ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: manual ? 'manual' : 'follow',
    signal: AbortSignal.timeout(30_000),
  });
  const text = await r.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: r.status, text, json };
}

/** A handle on the hub started in `dir` (reads harness-hub.json). */
export function attachHub(dirArg: string): Hub {
  const dir = path.resolve(dirArg);
  const p = hubPaths(dir);
  const info = JSON.parse(readFileSync(p.info, 'utf8')) as Info;
  const url = `http://127.0.0.1:${info.ports.proxy}`;
  const apiUrl = `${url}/hub/api`;
  const api = (method: string, apiPath: string, body?: unknown) =>
    request(apiUrl + (apiPath.startsWith('/') ? apiPath : '/' + apiPath), info.token, method, body);
  const u = (name: string) => `/users/${encodeURIComponent(name)}`;
  const waitIdle = async (user: string, timeoutMs: number) =>
    waitFor(
      async () => {
        const r = await api('GET', u(user));
        return r.status === 200 && r.json?.pending == null ? r.json : false;
      },
      { timeoutMs, intervalMs: 500, onTimeout: () => `server of ${user} still pending after ${timeoutMs} ms` },
    );
  return {
    dir,
    url,
    apiUrl,
    token: info.token,
    ports: info.ports,
    pid: info.pid,
    api,
    async startServer(user, o = {}) {
      const c = await api('POST', u(user));
      if (c.status !== 201 && c.status !== 409) throw new Error(`create user ${user}: ${c.status} ${c.text}`);
      const r = await api('POST', `${u(user)}/server`);
      if (r.status !== 201 && r.status !== 202) throw new Error(`start server of ${user}: ${r.status} ${r.text}`);
      if (o.wait === false) return { status: r.status, ready: r.status === 201, model: undefined };
      const model = await waitIdle(user, o.timeoutMs ?? 180_000);
      return { status: r.status, ready: model?.servers?.['']?.ready === true, model };
    },
    async stopServer(user, o = {}) {
      const r = await api('DELETE', `${u(user)}/server`);
      if (r.status !== 204 && r.status !== 202 && r.status !== 400) {
        throw new Error(`stop server of ${user}: ${r.status} ${r.text}`);
      }
      if (o.wait !== false) await waitIdle(user, o.timeoutMs ?? 120_000);
      return { status: r.status };
    },
    progress: (user, o = {}) => readProgress(`${apiUrl}${u(user)}/server/progress`, info.token, o.timeoutMs ?? 120_000),
    userProxyGet: (user, userPath) =>
      request(`${url}/user/${encodeURIComponent(user)}/${userPath.replace(/^\/+/, '')}`, info.token, 'GET', undefined, true),
    logs: () => (existsSync(p.log) ? readFileSync(p.log, 'utf8') : ''),
    stop: (o = {}) => stopHubDir(dir, o),
  };
}

async function readProgress(url: string, token: string, timeoutMs: number): Promise<ProgressEvent[]> {
  const events: ProgressEvent[] = [];
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const r = await fetch(url, {
      headers: { Authorization: `token ${token}`, Accept: 'text/event-stream' },
      signal: ac.signal,
    });
    if (r.status !== 200 || !r.body) throw new Error(`progress: HTTP ${r.status} ${await r.text()}`);
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of r.body as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trim())
          .join('\n');
        if (data) events.push(JSON.parse(data) as ProgressEvent);
      }
    }
  } catch (e) {
    if (!ac.signal.aborted) throw e;
  } finally {
    clearTimeout(timer);
  }
  return events;
}

/**
 * Stops the hub recorded in `dir` by pid (SIGTERM; with cleanup_servers it stops
 * the servers and its proxy first), then the proxy by its pid file, then any
 * leftover process whose cwd is in `dir`.
 */
export async function stopHubDir(dirArg: string, opts: { keepServers?: boolean } = {}): Promise<void> {
  const dir = path.resolve(dirArg);
  const p = hubPaths(dir);
  let pid: number | null = null;
  try {
    pid = (JSON.parse(readFileSync(p.info, 'utf8')) as Info).pid;
  } catch {
    pid = readPidFile(p.hubPid);
  }
  if (pid !== null && isAlive(pid) && belongsToDir(pid, dir)) await terminate(pid, 30_000);
  const proxy = readPidFile(p.proxyPid);
  if (proxy !== null && isAlive(proxy) && belongsToDir(proxy, dir)) await terminate(proxy, 5_000);
  if (!opts.keepServers) await killProcessesInDir(dir);
}
