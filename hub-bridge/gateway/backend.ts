// Where a route's notebook server is, and whether it answers. The direct resolver maps
// the scheduler's node name (never anything the user sent) to an address; the tunnel
// resolver (route-tunnels.ts, docs/launch.md "Nodes the gateway cannot reach") maps the
// route to the gateway-side end of the job's restricted reverse tunnel instead.
import { request } from 'node:http';
import type { GatewayConfig } from '../../config/schema-gateway.js';
import type { Route } from './route.js';

export interface BackendTarget {
  host: string;
  port: number;
}

export interface BackendResolver {
  readonly kind: string;
  /** The server of a route whose job runs and has announced its port; null = not reachable (yet). */
  target(route: Route): BackendTarget | null;
  /** Why a running job's route has no target yet, beyond the port (for the waiting page), or null. */
  waitingFor?(route: Route): string | null;
  /** The scheduler confirmed the route's job (this round). */
  routeVerified?(route: Route): void;
  /** The route ended: whatever the resolver holds for it is released. */
  routeEnded?(route: Route): void;
}

export class DirectNodeResolver implements BackendResolver {
  readonly kind = 'direct';

  constructor(private readonly nodes: GatewayConfig['nodes']) {}

  address(node: string): string {
    const mapped = Object.hasOwn(this.nodes.addresses, node) ? this.nodes.addresses[node] : undefined;
    if (mapped) return mapped;
    return this.nodes.domain ? `${node}.${this.nodes.domain}` : node;
  }

  target(route: Route): BackendTarget | null {
    const { job, port } = route.live;
    if (!job || port === null || !job.node) return null;
    if (job.state !== 'running' && job.state !== 'completing') return null;
    // A multi-node job: the scheduler names the batch host, where Jupyter runs.
    return { host: this.address(job.node), port };
  }
}

/**
 * The readiness probe: GET <base>api/status with the notebook's token. 2xx is ready (and
 * 404: Voilà has no /api/status); a server that refuses the token (401/403) or fails
 * (5xx) is reported and not routed to.
 */
export function probeBackend(t: BackendTarget, basePath: string, token: string, timeoutMs: number): Promise<{ ok: boolean; error: string | null }> {
  return new Promise((resolve) => {
    const req = request(
      { host: t.host, port: t.port, path: `${basePath}api/status`, method: 'GET', headers: { authorization: `token ${token}`, host: `${t.host}:${t.port}` }, timeout: timeoutMs },
      (res) => {
        res.resume();
        const s = res.statusCode ?? 0;
        if ((s >= 200 && s < 300) || s === 404) resolve({ ok: true, error: null });
        else if (s === 401 || s === 403) resolve({ ok: false, error: `the server on ${t.host}:${t.port} refused the session's token (HTTP ${s})` });
        else resolve({ ok: false, error: `the server on ${t.host}:${t.port} answered HTTP ${s}` });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ ok: false, error: `cannot reach ${t.host}:${t.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}` }));
    req.end();
  });
}
