// Builds the one core object from a parsed config: store, transport, hpc-wrap client,
// session service, status poller and the HTTP server.
import { hostUrl } from '../contract/url.js';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { HubBridgeConfig } from '../config/schema.js';
import { createApp } from './api/app.js';
import { readOrCreateToken, writeCurlHeaderFile } from './api/token-file.js';
import { CapabilitiesCache } from './cluster/capabilities-cache.js';
import { HpcWrapClient } from './cluster/hpc-wrap-client.js';
import { AgentClient } from './cluster/agent-client.js';
import { PushedStatus } from './sessions/pushed-status.js';
import { VERSION } from './version.js';
import { startHubService, type HubService } from './hub-service/hub-service.js';
import { ProfileAvailability } from './sessions/profile-availability.js';
import { SessionService } from './sessions/session-service.js';
import { OrphanReaper } from './sessions/orphan-reaper.js';
import { StatusPoller } from './sessions/status-poller.js';
import { SessionStore } from './store/session-store.js';
import { LocalTransport } from './transport/local-transport.js';
import { restoreTunnels, wireTunnelEvents } from './sessions/session-tunnels.js';
import { Tunnels } from './tunnel/tunnels.js';
import { SshTransport } from './transport/ssh-transport.js';
import type { Transport } from './transport/types.js';
import { startAdminWatch, type AdminWatch } from './admin-watch.js';

/** The hpc-wrap bundle shipped next to this program (dist/hpc-wrap.mjs). */
export function bundledHpcWrap(): string[] {
  const candidates = [new URL('./hpc-wrap.mjs', import.meta.url), new URL('../dist/hpc-wrap.mjs', import.meta.url)];
  for (const c of candidates) {
    const p = fileURLToPath(c);
    if (existsSync(p)) return [process.execPath, p];
  }
  throw new Error('hpc-wrap is not built: run `npm run build`, or set cluster.hpcWrap in hub-bridge.yaml');
}

/** `configFile` only improves messages (the `hpc-bridge --config FILE cluster trust` hint). */
export function createTransport(config: HubBridgeConfig, opts: { configFile?: string | null } = {}): Transport {
  const t = config.cluster.transport;
  switch (t.kind) {
    case 'local':
      return new LocalTransport({ runAs: t.runAs, identity: t.identity, sudoCommand: t.sudoCommand });
    case 'ssh':
      return new SshTransport(t, { configFile: opts.configFile ?? null });
  }
}

export interface Bridge {
  store: SessionStore;
  service: SessionService;
  poller: StatusPoller;
  /** The hpc-wrap client (its agent, when cluster.agent is on). */
  cluster: HpcWrapClient;
  pushed: PushedStatus;
  reaper: OrphanReaper;
  /** Metrics (null when metrics.enabled is false) and scheduler accounting. */
  watch: AdminWatch;
  /** The tunnel endpoint and ports (tunnel.enabled), else null. */
  tunnels: Tunnels | null;
  server: Server;
  url: string;
  token: string;
  /** The students' pages and the admin page (hubService.enabled), else null. */
  hubService: HubService | null;
  close(): Promise<void>;
}

export async function startBridge(config: HubBridgeConfig, log: Logger, opts: { transport?: Transport } = {}): Promise<Bridge> {
  const { token, created } = readOrCreateToken(config.apiTokenFile);
  if (created) log.info({ file: config.apiTokenFile }, 'created a new API token file');
  writeCurlHeaderFile(config.apiTokenFile, token);
  const store = new SessionStore(config.stateDb);
  const transport = opts.transport ?? createTransport(config);
  const hpcWrap = config.cluster.hpcWrap ?? bundledHpcWrap();
  const timeoutMs = config.cluster.commandTimeoutSeconds * 1000;
  const agent = config.cluster.agent && transport.open ? new AgentClient(transport, { hpcWrap, version: VERSION, log, startTimeoutMs: Math.min(timeoutMs, 30_000) }) : null;
  const cluster = new HpcWrapClient(transport, hpcWrap, timeoutMs, agent);
  const tunnels = config.tunnel.enabled ? new Tunnels(config, log) : null;
  const capabilities = new CapabilitiesCache(cluster, log);
  // Known before the first request when the cluster answers quickly; never blocks the start for long.
  await Promise.race([capabilities.refresh(), new Promise((r) => setTimeout(r, 5000).unref())]);
  const service = new SessionService(store, cluster, config, log, tunnels, capabilities);
  const poller = new StatusPoller(store, service, cluster, {
    intervalMs: config.status.intervalSeconds * 1000,
    startingIntervalMs: config.status.startingIntervalSeconds * 1000,
    queuedIntervalMs: config.status.queuedIntervalSeconds * 1000,
  }, log);
  const reaper = new OrphanReaper(store, service, cluster, { intervalMs: config.reaper.intervalSeconds * 1000, graceMs: config.reaper.graceSeconds * 1000 }, log);
  if (tunnels) {
    // ports first (a live session's P must be ours again before anything else), then the endpoint
    await restoreTunnels(tunnels, store, service, log);
    wireTunnelEvents(tunnels, store, service, () => poller.wake());
    await tunnels.listen();
  }
  const watch = await startAdminWatch(config, { store, service, poller, cluster, log });
  if (tunnels && watch.metrics) tunnels.metrics = watch.metrics.tunnel;
  const availability = new ProfileAvailability(() => cluster.partitions(), config.profiles, config.defaultProfile, config.profileCheck, log);
  const app = createApp({ service, store, token, maxBodyBytes: config.maxBodyBytes, log, metrics: watch.endpoint, accounting: watch.accounting, availability });

  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.listen.port, config.listen.host, () => resolve(s));
    s.once('error', reject);
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.listen.port;
  const url = hostUrl('http', config.listen.host, port);

  let hubService: HubService | null = null;
  try {
    if (config.hubService.enabled) hubService = await startHubService(config, { store, service, log, accounting: watch.accounting });
  } catch (err) {
    server.close();
    store.close();
    throw err;
  }

  service.recover();
  const pushed = new PushedStatus(store, cluster, (id) => poller.pollNow(id), log);
  service.events.on('activity', () => {
    poller.wake();
    pushed.sync();
  });
  poller.start();
  pushed.start();
  reaper.start();
  watch.start();
  log.info({ url, cluster: cluster.description, sessions: store.live().length }, 'hpc-bridge listening');

  return {
    store, service, poller, cluster, pushed, reaper, watch, tunnels, server, url, token, hubService,
    async close() {
      await reaper.stop();
      await poller.stop();
      pushed.stop();
      await watch.close();
      await hubService?.close();
      await tunnels?.close();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      await service.close();
      await agent?.close();
      await transport.close();
      store.close();
    },
  };
}
