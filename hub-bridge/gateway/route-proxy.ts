// The request path through the gateway for a route: the session gate (one-time token →
// cookie), the origin check, then either the waiting page or the notebook itself over
// HTTP/1.1 and WebSocket (http-proxy-3). The notebook gets the route's own Host (its
// WebSocket origin check compares the two), the token in Authorization, X-Forwarded-*,
// and never the gateway's cookie.
import { hostUrl } from '../../contract/url.js';
import { Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import type { GatewayConfig } from '../../config/schema-gateway.js';
import type { BackendResolver } from './backend.js';
import { refusedPage, sendPage, waitingPage } from './pages.js';
import { routePhase, type Route } from './route.js';
import type { RouteMonitor } from './route-monitor.js';
import type { RouteTable } from './route-table.js';
import { clientAddress, cookieName, crossOrigin, stripCookie, type Addressed } from './request-routing.js';
import type { SessionGate } from './session-gate.js';

export interface RouteProxyDeps {
  config: GatewayConfig;
  table: RouteTable;
  gate: SessionGate;
  resolver: BackendResolver;
  monitor: RouteMonitor;
  schedulerError(): string | null;
}

function wantsPage(req: IncomingMessage): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && (req.headers.accept ?? '').includes('text/html');
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}

export class RouteProxy {
  private readonly proxy = createProxyServer({ xfwd: true, ws: true, changeOrigin: false, proxyTimeout: 0 });
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 64 });
  private readonly cookie: string;

  constructor(private readonly d: RouteProxyDeps) {
    this.cookie = cookieName(d.config.mode);
    this.proxy.on('error', () => {}); // every call passes its own callback
  }

  private phase(route: Route) {
    return routePhase(route, Date.now(), this.d.config.maxUnverifiedSeconds * 1000);
  }

  /** Rewrites the headers the notebook must (not) see. */
  private prepare(req: IncomingMessage, route: Route): void {
    const cookie = stripCookie(req.headers.cookie, this.cookie);
    if (cookie === undefined) delete req.headers.cookie;
    else req.headers.cookie = cookie;
    req.headers.authorization = `token ${route.record.jupyterToken}`;
  }

  web(req: IncomingMessage, res: ServerResponse, t: Addressed): void {
    const route = this.d.table.find(t.label);
    const remote = clientAddress(req);
    const gate = this.d.gate.admit(req, route, t.basePath, remote);
    if (gate.kind === 'refused' || !route) return sendPage(res, 403, refusedPage());
    if (gate.kind === 'redirect') {
      res.writeHead(303, { location: gate.location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', ...(gate.setCookie ? { 'set-cookie': gate.setCookie } : {}) });
      res.end();
      return;
    }
    if (crossOrigin(req, `https://${req.headers.host ?? ''}`, false)) return sendPage(res, 403, refusedPage());
    const phase = this.phase(route);
    if (phase === 'ended') return sendPage(res, 410, waitingPage({ phase, route, schedulerError: null }));
    const target = phase === 'ready' ? this.d.resolver.target(route) : null;
    if (!target) {
      if (wantsPage(req)) return sendPage(res, 200, waitingPage({ phase, route, schedulerError: this.d.schedulerError() }));
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '2', 'cache-control': 'no-store' });
      res.end('the notebook server is not ready\n');
      return;
    }
    this.prepare(req, route);
    this.proxy.web(req, res, { target: hostUrl('http', target.host, target.port), agent: this.agent }, (err) => {
      this.d.monitor.down(route, `proxy error: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      if (!res.headersSent) sendPage(res, 502, waitingPage({ phase: 'starting', route, schedulerError: null }));
      else res.destroy();
    });
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, t: Addressed): void {
    const route = this.d.table.find(t.label);
    if (!route || !this.d.gate.hasSession(req, route)) return rejectUpgrade(socket, 403, 'Forbidden');
    if (crossOrigin(req, `https://${req.headers.host ?? ''}`, true)) return rejectUpgrade(socket, 403, 'Forbidden');
    const target = this.phase(route) === 'ready' ? this.d.resolver.target(route) : null;
    if (!target) return rejectUpgrade(socket, 503, 'Service Unavailable');
    this.prepare(req, route);
    this.proxy.ws(req, socket, head, { target: hostUrl('ws', target.host, target.port) }, () => {
      socket.destroy();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
