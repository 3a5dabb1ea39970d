// gateway.backend: tunnel (docs/launch.md, "Nodes the gateway cannot reach"): for
// clusters whose compute nodes the gateway host cannot reach, each route's job connects
// OUT to the gateway's own SSH tunnel endpoint, the same restricted reverse tunnel as the
// hub path (hub-bridge/tunnel/, docs/tunnel.md): a key made for the route at
// registration, a gateway-side 127.0.0.1 port P held by the gateway from registration to
// the route's end, and the agent's status channel. The resolver maps a route to
// 127.0.0.1:P only while the endpoint reports THAT route's key carrying P; a connection
// to P without it is reset by Tunnels, never served by anything else. No hub API forward.
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../../config/schema-gateway.js';
import type { TunnelRequest } from '../../contract/tunnel.js';
import { tunnelDocument } from '../tunnel/tunnel-registry.js';
import { Tunnels, type PortLoss } from '../tunnel/tunnels.js';
import type { BackendResolver, BackendTarget } from './backend.js';
import { routeFingerprint, type Route, type RouteRecord } from './route.js';

/** The endpoint's id for a route: never the label (it is part of the capability, and Tunnels logs ids). */
export function tunnelIdOf(label: string): string {
  return `r-${routeFingerprint(label)}`;
}

export interface RouteTunnelGrant {
  /** What launch gets (spec + private key: SECRET). */
  request: TunnelRequest;
  port: number;
  publicKey: string;
}

export class RouteTunnels {
  readonly tunnels: Tunnels;
  private readonly labels = new Map<string, string>();

  constructor(
    private readonly gw: GatewayConfig,
    stateDir: string,
    log: Logger,
  ) {
    const t = gw.tunnel;
    const { ports, ...tunnel } = t;
    this.tunnels = new Tunnels({ tunnel: { ...tunnel, hostKeyFile: t.hostKeyFile ?? join(stateDir, 'tunnel-host-key') }, ports, hubApiUrl: null }, log);
  }

  /** The label of a tunnel id (for the endpoint's events), or undefined. */
  labelOf(id: string): string | undefined {
    return this.labels.get(id);
  }

  /**
   * A route's key is valid until the scheduler has not confirmed its job for
   * maxUnverifiedSeconds plus the margin: extended at every confirmation, revoked at once
   * when the route ends.
   */
  private expiry(now = Date.now()): string {
    return new Date(now + (this.gw.maxUnverifiedSeconds + this.gw.tunnel.keyLifetimeMarginSeconds) * 1000).toISOString();
  }

  /** After a restart: every live route's P and key back (a P another program took: returned, the route is to be ended). */
  async restore(records: readonly RouteRecord[]): Promise<PortLoss[]> {
    const holders = records
      .filter((r) => r.tunnelPort !== null && r.tunnelPublicKey)
      .map((r) => {
        const id = tunnelIdOf(r.label);
        this.labels.set(id, r.label);
        return { id, tunnelPort: r.tunnelPort, tunnelPublicKey: r.tunnelPublicKey, tunnelExpiresAt: this.expiry(), tunnelState: 'down' as const };
      });
    return this.tunnels.restore(holders);
  }

  listen(): Promise<{ host: string; port: number }> {
    return this.tunnels.listen();
  }

  /** A held P and a fresh key for a route (a previous one of the same route is revoked and released first). */
  async allocate(label: string): Promise<RouteTunnelGrant> {
    const id = tunnelIdOf(label);
    this.end(label);
    const grant = await this.tunnels.grant({ walltime: '0' });
    grant.expiresAt = this.expiry();
    this.tunnels.activate(id, grant);
    this.labels.set(id, label);
    return { request: { ...tunnelDocument(grant) }, port: grant.remotePort, publicKey: grant.publicKey };
  }

  /** The scheduler confirmed the route's job: its key stays valid. */
  verified(label: string): void {
    this.tunnels.keys.extend(tunnelIdOf(label), this.expiry());
  }

  /** The route ended: key revoked, the agent's connections cut, P released. */
  end(label: string): void {
    const id = tunnelIdOf(label);
    this.tunnels.end(id);
    this.labels.delete(id);
  }

  /** P, while the route's own key carries it. */
  upPort(label: string): number | null {
    const s = this.tunnels.state(tunnelIdOf(label));
    return s?.state === 'up' ? s.port : null;
  }

  close(): Promise<void> {
    return this.tunnels.close();
  }
}

export class TunnelResolver implements BackendResolver {
  readonly kind = 'tunnel';

  constructor(private readonly rt: RouteTunnels) {}

  target(route: Route): BackendTarget | null {
    const { job } = route.live;
    if (!job || (job.state !== 'running' && job.state !== 'completing')) return null;
    const port = this.rt.upPort(route.record.label);
    if (port === null || port !== route.record.tunnelPort) return null;
    return { host: '127.0.0.1', port };
  }

  waitingFor(route: Route): string | null {
    const { job } = route.live;
    if (!job || job.state === 'pending') return null;
    return this.rt.upPort(route.record.label) === null ? "the job's tunnel to the gateway is not up (yet)" : null;
  }

  routeVerified(route: Route): void {
    this.rt.verified(route.record.label);
  }

  routeEnded(route: Route): void {
    this.rt.end(route.record.label);
  }
}
