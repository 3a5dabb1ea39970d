// The HTTP side of metrics: a middleware timing each API request by its route template
// (`/v1/sessions/:id`, never the raw path), and the GET /metrics handler with its own
// bearer token (the API token would let a scraper start jobs). Optionally a separate
// listener that serves only /metrics.
import { hostUrl } from '../../contract/url.js';
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { tokenMatches } from '../api/token-file.js';
import type { BridgeMetrics } from './bridge-metrics.js';

/** What the API app needs to time requests and serve /metrics. */
export interface MetricsEndpoint {
  metrics: BridgeMetrics;
  token: string;
  /** False on the API listener when /metrics is served by a separate one (it then says where). */
  servedHere: boolean;
  /** Where the separate listener is, for the 404 message. */
  elsewhere?: string;
}

const ROUTE_UNMATCHED = 'unmatched';

function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? `${req.baseUrl}${path}` : ROUTE_UNMATCHED;
}

/** Times every request; the route label is read once the response is finished. */
export function requestTimer(metrics: BridgeMetrics): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const t0 = process.hrtime.bigint();
    res.once('finish', () => {
      const type = res.getHeader('content-type');
      if (typeof type === 'string' && type.startsWith('text/event-stream')) return;
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      metrics.httpDuration.observe({ method: req.method, route: routeOf(req), code: String(res.statusCode) }, seconds);
    });
    next();
  };
}

function bearer(req: Request): string | null {
  const m = /^Bearer (.+)$/i.exec(req.get('authorization') ?? '');
  return m ? m[1]!.trim() : null;
}

/** GET /metrics: the Prometheus text format, for the holder of the metrics token. */
export function metricsHandler(ep: MetricsEndpoint | null): RequestHandler {
  return async (req: Request, res: Response) => {
    if (!ep || !ep.servedHere) {
      const where = ep?.elsewhere ? `; it is served on ${ep.elsewhere}/metrics` : '; metrics.enabled is false in hub-bridge.yaml';
      res.status(404).json({ error: { code: 'not_found', message: `metrics are not served on this listener${where}` } });
      return;
    }
    const given = bearer(req);
    if (given === null || !tokenMatches(given, ep.token)) {
      res.set('WWW-Authenticate', 'Bearer');
      res.status(401).json({
        error: {
          code: 'unauthorized',
          message: given === null ? 'missing "Authorization: Bearer <token>" header (the token is in the file named by metrics.tokenFile)' : 'the bearer token is wrong (use the one in metrics.tokenFile, not the API token)',
        },
      });
      return;
    }
    const { contentType, body } = await ep.metrics.text();
    res.set('Content-Type', contentType).set('Cache-Control', 'no-store').send(body);
  };
}

/** A listener of its own that serves only GET /metrics (metrics.listen.port). */
export async function startMetricsListener(metrics: BridgeMetrics, token: string, host: string, port: number): Promise<{ server: Server; url: string }> {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', metricsHandler({ metrics, token, servedHere: true }));
  app.use((_req, res) => void res.status(404).json({ error: { code: 'not_found', message: 'this listener serves only GET /metrics' } }));
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, host, () => resolve(s));
    s.once('error', reject);
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  return { server, url: hostUrl('http', host, bound) };
}
