// The hub end of every notebook tunnel, in one object: per session a key (registry), the
// hub-side port P (held by this process from grant to end: session-ports.ts), and the
// agent connection currently carrying P (endpoint.ts). A connection the hub's proxy makes
// to 127.0.0.1:P goes into a forwarded-tcpip channel of THAT session's authenticated
// agent, or is reset when there is none; it is never served by anything else.
//
// It tells the session layer (sessions/session-tunnels.ts) when a tunnel comes up or is
// lost, and what the agent pushes on its status channel; the bytes it relays go to a
// TunnelMetrics sink (the bridge's /metrics once set up; nothing by default).
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Resources } from '../../config/schema.js';
import type { TunnelConfig } from '../../config/schema-tunnel.js';
import { NO_TUNNEL_METRICS, type TunnelMetrics } from '../metrics/tunnel-metrics.js';
import type { Session } from '../sessions/types.js';
import type { StatusPush } from './endpoint-policy.js';
import { TunnelEndpoint, type AgentConnection } from './endpoint.js';
import { loadOrCreateHostKey, type EndpointHostKey } from './host-key.js';
import { coalesceWrites, splice } from './pipe.js';
import { SessionPorts, type PortRange } from './session-ports.js';
import { generateTunnelKey } from './tunnel-keys.js';
import { expiryFrom, hubApiPort, knownHostsLine, TunnelKeyRegistry, type TunnelGrant } from './tunnel-registry.js';

/**
 * waiting: no agent has brought the tunnel up yet (queue wait, environment);
 * up: this session's agent is logged in with its key and its forward of P is in place;
 * down: it was up and was lost (connection closed, keepalive timeout); connections to P are refused;
 * closed: the session ended, P is released.
 */
export type TunnelState = 'waiting' | 'up' | 'down' | 'closed';

export interface TunnelChange {
  sessionId: string;
  port: number;
  state: TunnelState;
  previous: TunnelState;
  /** ISO time of the change. */
  since: string;
  /** Why it was lost (for down). */
  reason: string | null;
}

export interface PortLoss {
  sessionId: string;
  port: number;
  /** e.g. EADDRINUSE: another program holds it. */
  error: string;
}

interface Entry {
  sessionId: string;
  port: number;
  state: TunnelState;
  since: string;
  active: AgentConnection | null;
}

export interface TunnelsEvents {
  change: [change: TunnelChange];
  status: [sessionId: string, status: StatusPush];
}

const EXPIRY_SWEEP_MS = 30_000;

/**
 * What the tunnels need of a configuration: hub-bridge.yaml's `tunnel`, `ports` and
 * `hubApiUrl` (the bridge), or the gateway's own endpoint (gateway.tunnel: no hub API).
 */
export interface TunnelsConfig {
  tunnel: Omit<TunnelConfig, 'enabled'>;
  ports: PortRange;
  /** JupyterHub's API, the one destination agents may open; null = none (the gateway). */
  hubApiUrl: string | null;
}

/** What restore() needs of a session (or of a gateway route) holding a tunnel. */
export type TunnelHolder = Pick<Session, 'id' | 'tunnelPort' | 'tunnelPublicKey' | 'tunnelExpiresAt' | 'tunnelState'>;

export class Tunnels extends EventEmitter<TunnelsEvents> {
  readonly keys = new TunnelKeyRegistry();
  readonly endpoint: TunnelEndpoint;
  readonly hostKey: EndpointHostKey;
  private readonly ports: SessionPorts;
  private readonly entries = new Map<string, Entry>();
  private readonly byPort = new Map<number, Entry>();
  private readonly foreignSeen = new Set<number>();
  private readonly apiPort: number | null;
  private sweep: NodeJS.Timeout | null = null;
  /** Connections to a P refused because no agent carried it. */
  refusedConnections = 0;
  /** Where relayed bytes are counted (metrics are set up after the tunnels: bridge.ts sets it). */
  metrics: Pick<TunnelMetrics, 'bytes'> = NO_TUNNEL_METRICS;

  constructor(
    private readonly config: TunnelsConfig,
    private readonly log: Logger,
  ) {
    super();
    const { key, created } = loadOrCreateHostKey(config.tunnel.hostKeyFile);
    if (created) log.info({ file: config.tunnel.hostKeyFile, fingerprint: key.fingerprint }, 'made a new host key for the tunnel endpoint');
    this.hostKey = key;
    this.apiPort = config.hubApiUrl === null ? null : hubApiPort(config.hubApiUrl);
    this.ports = new SessionPorts((port, sock) => this.route(port, sock));
    const t = config.tunnel;
    this.endpoint = new TunnelEndpoint({
      hostKey: key.privateKey,
      user: t.user,
      apiPort: this.apiPort,
      lookup: this.keys.lookup,
      keepaliveMs: t.endpointKeepaliveSeconds * 1000,
      loginGraceMs: t.loginGraceSeconds * 1000,
      maxUnauthenticated: t.maxUnauthenticated,
      log,
    });
    this.endpoint.on('forward', (a) => this.onForward(a));
    this.endpoint.on('lost', (a, reason) => this.onLost(a, reason));
    this.endpoint.on('status', (a, st) => {
      if (this.entries.get(a.sessionId)?.active === a) this.emit('status', a.sessionId, st);
    });
  }

  /** Where jobs connect to (the endpoint's public address; listen.port 0: the port it got). */
  get publicAddress(): { host: string; port: number } {
    const t = this.config.tunnel;
    return { host: t.publicHost ?? '127.0.0.1', port: t.publicPort ?? (t.listen.port || (this.endpoint.address?.port ?? 0)) };
  }

  /**
   * After a (re)start, before the endpoint listens: takes back every live session's P and
   * key. A P that another program took meanwhile is NOT routed: it is returned, so that the
   * session is ended (nothing of its traffic may reach that program).
   */
  async restore(sessions: readonly TunnelHolder[]): Promise<PortLoss[]> {
    const lost: PortLoss[] = [];
    for (const s of sessions) {
      if (s.tunnelPort === null || !s.tunnelPublicKey || !s.tunnelExpiresAt) continue;
      const held = await this.ports.hold(s.tunnelPort);
      if (held !== true) {
        lost.push({ sessionId: s.id, port: s.tunnelPort, error: held });
        continue;
      }
      this.keys.add(s.id, s.tunnelPublicKey, s.tunnelPort, s.tunnelExpiresAt);
      const wasUp = s.tunnelState === 'up' || s.tunnelState === 'down';
      this.track(s.id, s.tunnelPort, wasUp ? 'down' : 'waiting');
    }
    return lost;
  }

  async listen(): Promise<{ host: string; port: number }> {
    const a = await this.endpoint.listen(this.config.tunnel.listen.host, this.config.tunnel.listen.port);
    this.sweep = setInterval(() => this.cutExpired(), EXPIRY_SWEEP_MS);
    this.sweep.unref();
    this.log.info({ listen: `${a.host}:${a.port}`, public: `${this.publicAddress.host}:${this.publicAddress.port}`, hostKey: this.hostKey.fingerprint, sessions: this.entries.size }, 'tunnel endpoint listening');
    return a;
  }

  /** A port (bound from now on) and a fresh key for a new session; then activate() or abandon(). */
  async grant(resources: Pick<Resources, 'walltime'>): Promise<TunnelGrant> {
    const { port, foreign } = await this.ports.allocate(this.config.ports);
    const fresh = foreign.filter((p) => !this.foreignSeen.has(p));
    if (fresh.length) {
      fresh.forEach((p) => this.foreignSeen.add(p));
      this.log.warn({ ports: fresh.slice(0, 20), count: fresh.length }, 'ports of the tunnel range are held by other programs; skipped');
    }
    const t = this.config.tunnel;
    const pub = this.publicAddress;
    const key = generateTunnelKey();
    return {
      host: pub.host,
      port: pub.port,
      user: t.user,
      hostKeys: [knownHostsLine(pub.host, pub.port, this.hostKey.publicKey)],
      remotePort: port,
      ...(this.apiPort === null ? {} : { hubApiPort: this.apiPort }),
      keepaliveIntervalSeconds: t.keepaliveIntervalSeconds,
      privateKey: key.privateKey,
      publicKey: key.publicKey,
      expiresAt: expiryFrom(Date.now(), resources.walltime, t.keyLifetimeMarginSeconds),
    };
  }

  /** The session row holds the grant: its key may log in, its agent may carry P. */
  activate(sessionId: string, grant: TunnelGrant): void {
    this.keys.add(sessionId, grant.publicKey, grant.remotePort, grant.expiresAt);
    this.track(sessionId, grant.remotePort, 'waiting');
  }

  /** The grant was not used (the request failed or raced): P is released. */
  abandon(grant: TunnelGrant): void {
    if (!this.byPort.has(grant.remotePort)) this.ports.release(grant.remotePort);
  }

  /** The job started: its key stays valid for its wall time from NOW; returns the new expiry. */
  jobStarted(sessionId: string, walltime: string): string {
    const expiresAt = expiryFrom(Date.now(), walltime, this.config.tunnel.keyLifetimeMarginSeconds);
    this.keys.extend(sessionId, expiresAt);
    return expiresAt;
  }

  /** The session ended or is being stopped: key revoked, connections cut, P released. */
  end(sessionId: string): void {
    const e = this.entries.get(sessionId);
    this.keys.remove(sessionId);
    const cut = this.endpoint.disconnect(sessionId);
    if (!e) return;
    this.entries.delete(sessionId);
    this.byPort.delete(e.port);
    this.ports.release(e.port);
    this.set(e, 'closed', null);
    this.log.info({ session: sessionId, port: e.port, connections: cut }, 'tunnel closed: key revoked, port released');
  }

  state(sessionId: string): { state: TunnelState; since: string; port: number } | null {
    const e = this.entries.get(sessionId);
    return e ? { state: e.state, since: e.since, port: e.port } : null;
  }

  isUp(sessionId: string): boolean {
    return this.entries.get(sessionId)?.state === 'up';
  }

  /** Ports held for sessions, and counts for doctor and the log. */
  stats() {
    return { sessions: this.entries.size, up: [...this.entries.values()].filter((e) => e.state === 'up').length, refusedConnections: this.refusedConnections, ...this.endpoint.stats() };
  }

  async close(): Promise<void> {
    if (this.sweep) clearInterval(this.sweep);
    this.ports.closeAll();
    await this.endpoint.close();
  }

  private track(sessionId: string, port: number, state: TunnelState): void {
    const e: Entry = { sessionId, port, state, since: new Date().toISOString(), active: null };
    this.entries.set(sessionId, e);
    this.byPort.set(port, e);
  }

  private set(e: Entry, state: TunnelState, reason: string | null): void {
    if (e.state === state) return;
    const previous = e.state;
    e.state = state;
    e.since = new Date().toISOString();
    this.emit('change', { sessionId: e.sessionId, port: e.port, state, previous, since: e.since, reason });
  }

  private onForward(a: AgentConnection): void {
    const e = this.entries.get(a.sessionId);
    if (!e || e.port !== a.port) return a.close();
    const old = e.active;
    e.active = a;
    if (old && old !== a) {
      // The newest connection of the job's key wins: the old one is stale (a reconnect
      // before the drop was noticed) or, with a stolen key, contested either way.
      this.log.warn({ session: a.sessionId, old: old.remote, new: a.remote }, 'a newer connection with this session\'s key took over its tunnel');
      old.close();
    }
    this.log.info({ session: a.sessionId, port: a.port, from: a.remote }, 'tunnel up');
    this.set(e, 'up', null);
  }

  private onLost(a: AgentConnection, reason: string): void {
    const e = this.entries.get(a.sessionId);
    if (!e || e.active !== a) return;
    e.active = null;
    this.log.warn({ session: a.sessionId, port: a.port, from: a.remote, reason }, 'tunnel lost');
    this.set(e, 'down', reason);
  }

  /** A connection on a held P: into a channel of the session's agent, or reset. */
  private route(port: number, sock: Socket): void {
    const agent = this.byPort.get(port)?.active;
    if (!agent?.forwarded) {
      this.refusedConnections++;
      sock.resetAndDestroy();
      return;
    }
    sock.on('error', () => sock.destroy());
    coalesceWrites(sock, 'loop');
    agent.openChannel(sock.remoteAddress ?? '127.0.0.1', sock.remotePort ?? 0, (err, ch) => {
      if (err || !ch || sock.destroyed) {
        ch?.destroy();
        if (!sock.destroyed) sock.resetAndDestroy();
        return;
      }
      splice(sock, ch);
      // counted per chunk as it passes (the pipes above move it; these only look)
      const m = this.metrics;
      sock.on('data', (b: Buffer) => m.bytes('to_notebook', b.length));
      ch.on('data', (b: Buffer) => m.bytes('from_notebook', b.length));
      sock.resume();
    });
  }

  private cutExpired(): void {
    for (const k of this.keys.expired()) {
      if (this.endpoint.disconnect(k.sessionId) > 0) this.log.warn({ session: k.sessionId }, 'tunnel key expired: its connections were cut');
    }
  }
}
