// `hpc-bridge gateway`: builds the one core object from hub-bridge.yaml (the `gateway`
// section and the `cluster` transport): the route store and table, the scheduler checks,
// the monitor, and one HTTPS server for the routes (HTTP/1.1 + WebSocket) and the
// registration API on the bare domain. With gateway.backend: tunnel, also the gateway's own
// SSH tunnel endpoint (route-tunnels.ts).
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { HubBridgeConfig } from '../../config/schema.js';
import { bundledHpcWrap, createTransport } from '../bridge.js';
import { createLogger } from '../log.js';
import type { Transport } from '../transport/types.js';
import { AuditLog } from './audit-log.js';
import { DirectNodeResolver, type BackendResolver } from './backend.js';
import { HpcWrapLaunchJobs, JobChecker, type ClusterJobs } from './cluster-jobs.js';
import { refusedPage, sendPage } from './pages.js';
import { registrationApi } from './registration-api.js';
import { RouteMonitor } from './route-monitor.js';
import { RouteProxy } from './route-proxy.js';
import { RouteStore } from './route-store.js';
import { RouteTable } from './route-table.js';
import { RouteTunnels, TunnelResolver } from './route-tunnels.js';
import { targetOf } from './request-routing.js';
import { SessionGate } from './session-gate.js';

export interface Gateway {
  server: Server;
  port: number;
  /** The public base, e.g. https://nb.example.org (from gateway.domain). */
  baseUrl: string;
  table: RouteTable;
  monitor: RouteMonitor;
  jobs: ClusterJobs;
  auditFile: string;
  /** backend: tunnel: the gateway's tunnel endpoint; null with backend: direct. */
  tunnels: RouteTunnels | null;
  routeUrl(label: string): string;
  /** Re-reads the certificate files (SIGHUP): renewed certificates without a restart. */
  reloadCertificate(): void;
  close(): Promise<void>;
}

export interface GatewayOptions {
  transport?: Transport;
  /** The scheduler checks (default: `hpc-wrap launch-jobs` through the transport). */
  jobs?: ClusterJobs;
  resolver?: BackendResolver;
  version?: string;
  /** The tunnel endpoint's log (backend: tunnel; default: JSON lines on stderr at log.level). */
  log?: Logger;
  /** How registrations are batched into scheduler checks (benchmarks compare with one check each). */
  checker?: { windowMs: number; batchSize: number };
}

function readTls(cfg: NonNullable<HubBridgeConfig['gateway']['tls']>): { cert: Buffer; key: Buffer } {
  const read = (file: string, key: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`cannot read gateway.tls.${key} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  return { cert: read(cfg.certFile, 'certFile'), key: read(cfg.keyFile, 'keyFile') };
}

export async function startGateway(config: HubBridgeConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const gw = config.gateway;
  if (!gw.tls) throw new Error('gateway.tls (certFile, keyFile) is required in hub-bridge.yaml: the gateway serves HTTPS only');
  const tls = readTls(gw.tls);
  const stateDir = resolve(gw.stateDir);
  const store = new RouteStore(join(stateDir, 'routes.sqlite'));
  const audit = new AuditLog(gw.auditLog ?? join(stateDir, 'audit.log'));
  const table = new RouteTable();
  for (const r of store.all()) table.add(r);
  const transport = opts.transport ?? createTransport(config);
  const jobs = opts.jobs ?? new HpcWrapLaunchJobs(transport, config.cluster.hpcWrap ?? bundledHpcWrap(), config.cluster.commandTimeoutSeconds * 1000);
  const routeTunnels = gw.backend === 'tunnel' ? new RouteTunnels(gw, stateDir, opts.log ?? createLogger(config.log.level)) : null;
  const resolver = opts.resolver ?? (routeTunnels ? new TunnelResolver(routeTunnels) : new DirectNodeResolver(gw.nodes));
  const routeUrl = (label: string) => (gw.mode === 'subdomain' ? `https://${label}.${gw.domain}/` : `https://${gw.domain}/${label}/`);
  const basePath = (label: string) => (gw.mode === 'subdomain' ? '/' : `/${label}/`);
  const monitor = new RouteMonitor({ config: gw, table, store, jobs, resolver, audit, basePath: (r) => basePath(r.record.label) });
  const checker = new JobChecker(jobs, gw.registration.maxPending, opts.checker?.windowMs, opts.checker?.batchSize);
  const api = registrationApi({ config: gw, table, store, checker, monitor, audit, routeUrl, version: opts.version ?? 'dev', tunnels: routeTunnels });
  if (routeTunnels) {
    // Routes held before a restart get their P and key back; a P another program took meanwhile ends its route.
    for (const lost of await routeTunnels.restore(store.all())) {
      const route = table.find(routeTunnels.labelOf(lost.sessionId) ?? '');
      if (route) monitor.end(route, `its tunnel port ${lost.port} was taken by another program while the gateway was down (${lost.error})`);
    }
    const routeOf = (id: string) => table.find(routeTunnels.labelOf(id) ?? '');
    routeTunnels.tunnels.on('change', (c) => {
      const route = routeOf(c.sessionId);
      if (!route) return;
      if (c.state === 'up') monitor.wake(); // probe through P at once
      else monitor.down(route, `the job's tunnel is ${c.state}${c.reason ? `: ${c.reason}` : ''}`);
    });
    routeTunnels.tunnels.on('status', (id, st) => {
      if (st.phase === 'listening' && routeOf(id)) monitor.wake();
    });
    await routeTunnels.listen();
  }
  const gate = new SessionGate(gw.mode, store, audit);
  const proxy = new RouteProxy({
    config: gw,
    table,
    gate,
    resolver,
    monitor,
    schedulerError: () => (monitor.lastReport && !monitor.lastReport.scheduler.reachable ? monitor.lastReport.scheduler.error : null),
  });

  const server = createServer({ ...tls, minVersion: 'TLSv1.2' }, (req, res) => {
    res.setHeader('strict-transport-security', 'max-age=31536000');
    const t = targetOf(req, gw.mode, gw.domain);
    if (t.kind === 'api') return void api(req, res);
    if (t.kind === 'none') return sendPage(res, 404, refusedPage());
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (gw.mode === 'path' && path === t.basePath.slice(0, -1)) {
      const q = (req.url ?? '').slice(path.length);
      res.writeHead(301, { location: `${t.basePath}${q}` });
      return void res.end();
    }
    proxy.web(req, res, t);
  });
  server.on('upgrade', (req, socket, head) => {
    const t = targetOf(req, gw.mode, gw.domain);
    if (t.kind !== 'route') return void socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    proxy.upgrade(req, socket, head, t);
  });
  server.on('tlsClientError', () => {}); // scanners and failed handshakes are not our errors
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(gw.listen.port, gw.listen.host, () => ok());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : gw.listen.port;
  monitor.start();
  return {
    server,
    port,
    baseUrl: `https://${gw.domain}`,
    table,
    monitor,
    jobs,
    auditFile: audit.file,
    tunnels: routeTunnels,
    routeUrl,
    reloadCertificate: () => server.setSecureContext({ ...readTls(gw.tls!), minVersion: 'TLSv1.2' }),
    async close() {
      await monitor.stop();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      proxy.close();
      await routeTunnels?.close();
      if (!opts.transport) await transport.close();
      store.close();
    },
  };
}
