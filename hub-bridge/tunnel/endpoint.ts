// The bridge's own SSH endpoint for the notebook tunnels (ssh2's Server on its own port,
// with its own host key): the compute-side agents log in here as the virtual tunnel user
// with their job's key, instead of into the hub host's sshd. No Unix account, no shell, no
// AuthorizedKeysCommand: the policy (endpoint-policy.ts) is applied to every request, and
// a connection that authenticated with session S's key can only ever carry S's traffic.
//
// Connections are accepted by our own TCP server and handed to ssh2, so that the endpoint
// can bound the unauthenticated ones (count and login grace time) and cut any connection
// at once (revocation, keepalive timeout) instead of waiting for TCP to give up.
import { createPrivateKey, sign as cryptoSign } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import ssh2 from 'ssh2';
import {
  decideAuth,
  decideDirect,
  FORWARD_UP,
  forwardRefusal,
  parseStatusPush,
  type AuthRequest,
  type EndpointKey,
  type StatusPush,
} from './endpoint-policy.js';
import { coalesceWrites, splice } from './pipe.js';

export interface EndpointOptions {
  /** OpenSSH private host key: SECRET. */
  hostKey: string;
  /** The virtual user the agents log in as. */
  user: string;
  /** JupyterHub's API port on 127.0.0.1 (the one direct-tcpip destination); null = none (the gateway's endpoint). */
  apiPort: number | null;
  /** The live sessions' keys, by public key blob. */
  lookup(blob: Buffer): EndpointKey | undefined;
  /** Keepalive interval; a connection silent for KEEPALIVE_MISSED + 1 intervals is dropped. */
  keepaliveMs: number;
  /** Time allowed from TCP connect to successful authentication. */
  loginGraceMs: number;
  /** Unauthenticated connections at once; more are closed at once (sshd's MaxStartups). */
  maxUnauthenticated: number;
  log: Logger;
}

/** An authenticated agent connection. */
export interface AgentConnection {
  readonly id: number;
  readonly sessionId: string;
  /** The session's hub-side port (the only one it may listen on). */
  readonly port: number;
  /** Where the agent connects from (address:port). */
  readonly remote: string;
  /** True while its tcpip-forward of 127.0.0.1:port is in place. */
  forwarded: boolean;
  /** Opens a forwarded-tcpip channel for a connection accepted on 127.0.0.1:port. */
  openChannel(srcAddr: string, srcPort: number, cb: (err: Error | undefined, channel: ssh2.ServerChannel | undefined) => void): void;
  /** Ends the connection: a disconnect message, and the socket closed within `graceMs` at the latest. */
  close(graceMs?: number): void;
}

export interface EndpointEvents {
  /** The agent's forward of its port is in place. */
  forward: [agent: AgentConnection];
  /** The forward is gone: connection closed, keepalive timeout, or cancelled. */
  lost: [agent: AgentConnection, reason: string];
  status: [agent: AgentConnection, status: StatusPush];
}

/**
 * The host key, parsed by ssh2, signing with a key object made once: ssh2's own sign()
 * parses the PEM on every handshake (several ms), which made a reconnect storm CPU-bound.
 */
function fastSigningKey(privateKey: string): ssh2.ParsedKey {
  const parsed = ssh2.utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) throw new Error('the tunnel host key does not parse');
  if (key.type === 'ssh-ed25519') {
    const keyObject = createPrivateKey(key.getPrivatePEM());
    key.sign = (data: Buffer | string) => cryptoSign(null, typeof data === 'string' ? Buffer.from(data) : data, keyObject);
  }
  return key;
}

const CIPHERS = ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com', 'aes128-ctr', 'aes256-ctr'];
const MAX_AUTH_FAILURES = 6;
/** Unanswered keepalives tolerated: an agent may take up to this many intervals to answer. */
export const KEEPALIVE_MISSED = 2;
const MAX_STATUS_BYTES = 4096;

export class TunnelEndpoint extends EventEmitter<EndpointEvents> {
  private readonly ssh: ssh2.Server;
  private readonly tcp: Server;
  /** Sockets handed to ssh2 whose SSH header has not been matched to a connection yet. */
  private readonly pending = new Map<string, Socket>();
  private readonly sockets = new Set<Socket>();
  private readonly agents = new Set<AgentConnection & { sock: Socket }>();
  private unauthenticated = 0;
  private nextId = 1;
  /** Status channels of agents whose forward is not in place yet (announceForward). */
  private readonly statusWaiters = new WeakMap<AgentConnection, Set<ssh2.ServerChannel>>();
  /** Connections closed at once because too many were unauthenticated. */
  droppedAtAccept = 0;

  constructor(private readonly o: EndpointOptions) {
    super();
    const serverConfig = {
      hostKeys: [{ key: fastSigningKey(o.hostKey) }],
      ident: 'hpc-bridge-tunnel',
      algorithms: { cipher: CIPHERS },
      keepaliveInterval: o.keepaliveMs,
      keepaliveCountMax: KEEPALIVE_MISSED,
    };
    this.ssh = new ssh2.Server(serverConfig as ssh2.ServerConfig, (client, info) => this.onClient(client, info));
    this.ssh.on('error', (err: Error) => o.log.warn({ err: err.message }, 'tunnel endpoint: ssh server error'));
    this.tcp = createServer({ noDelay: true }, (sock) => this.onSocket(sock));
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen({ host, port, backlog: 1024 }, () => {
        this.tcp.off('error', reject);
        this.tcp.on('error', (err) => this.o.log.warn({ err: err.message }, 'tunnel endpoint: accept failed'));
        const a = this.tcp.address();
        resolve(typeof a === 'object' && a ? { host: a.address, port: a.port } : { host, port });
      });
    });
  }

  get address(): { host: string; port: number } | null {
    const a = this.tcp.address();
    return typeof a === 'object' && a ? { host: a.address, port: a.port } : null;
  }

  /** Counts for the log, doctor and benchmarks. */
  stats(): { connections: number; authenticated: number; unauthenticated: number; droppedAtAccept: number } {
    return { connections: this.sockets.size, authenticated: this.agents.size, unauthenticated: this.unauthenticated, droppedAtAccept: this.droppedAtAccept };
  }

  agentsOf(sessionId: string): AgentConnection[] {
    return [...this.agents].filter((a) => a.sessionId === sessionId);
  }

  /** Ends every connection of a session (revocation): disconnect sent, sockets gone within `graceMs`. */
  disconnect(sessionId: string, graceMs = 300): number {
    const mine = this.agentsOf(sessionId);
    for (const a of mine) a.close(graceMs);
    return mine.length;
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((r) => this.tcp.close(() => r()));
    for (const a of this.agents) a.close(200);
    for (const s of this.sockets) if (!this.isAgentSocket(s)) s.destroy();
    await closed;
  }

  private isAgentSocket(s: Socket): boolean {
    for (const a of this.agents) if (a.sock === s) return true;
    return false;
  }

  private onSocket(sock: Socket): void {
    if (this.unauthenticated >= this.o.maxUnauthenticated) {
      this.droppedAtAccept++;
      sock.destroy();
      return;
    }
    coalesceWrites(sock);
    this.sockets.add(sock);
    this.unauthenticated++;
    let authenticated = false;
    const key = `${sock.remoteAddress}|${sock.remotePort}`;
    this.pending.set(key, sock);
    const grace = setTimeout(() => sock.destroy(), this.o.loginGraceMs);
    grace.unref();
    (sock as Socket & { hpcAuthenticated?: () => void }).hpcAuthenticated = () => {
      if (authenticated) return;
      authenticated = true;
      this.unauthenticated--;
      clearTimeout(grace);
    };
    sock.on('error', () => sock.destroy());
    sock.once('close', () => {
      this.sockets.delete(sock);
      this.pending.delete(key);
      clearTimeout(grace);
      if (!authenticated) this.unauthenticated--;
    });
    this.ssh.injectSocket(sock);
  }

  private onClient(client: ssh2.Connection, info: ssh2.ClientInfo): void {
    const key = `${info.ip}|${info.port}`;
    const sock = this.pending.get(key);
    this.pending.delete(key);
    if (!sock) {
      client.end();
      return;
    }
    const remote = `${info.ip}:${info.port}`;
    const log = this.o.log;
    let failures = 0;
    let grant: EndpointKey | null = null;
    let agent: (AgentConnection & { sock: Socket }) | null = null;
    let lostReason: string | null = null;

    client.on('authentication', (ctx) => {
      const pk = ctx.method === 'publickey' ? (ctx as ssh2.PublicKeyAuthContext) : null;
      const req: AuthRequest = {
        username: ctx.username,
        method: ctx.method,
        keyAlgo: pk?.key.algo,
        keyData: pk?.key.data,
        signature: pk?.signature,
        signedData: pk?.blob,
        hashAlgo: pk?.hashAlgo,
      };
      const d = decideAuth(req, this.o.user, this.o.lookup, Date.now());
      if (d.kind === 'query') return ctx.accept();
      if (d.kind === 'accept') {
        grant = d.grant;
        return ctx.accept();
      }
      // "none" is how every client starts: not worth a log line
      if (ctx.method !== 'none') log.info({ from: remote, method: ctx.method, why: d.why }, 'tunnel endpoint: login refused');
      if (++failures >= MAX_AUTH_FAILURES) {
        ctx.reject();
        sock.destroy();
        return;
      }
      ctx.reject(['publickey']);
    });

    client.on('ready', () => {
      const g = grant!;
      (sock as Socket & { hpcAuthenticated?: () => void }).hpcAuthenticated?.();
      const a: AgentConnection & { sock: Socket } = {
        id: this.nextId++,
        sessionId: g.sessionId,
        port: g.port,
        remote,
        forwarded: false,
        sock,
        openChannel: (srcAddr, srcPort, cb) => client.forwardOut('127.0.0.1', g.port, srcAddr, srcPort, (err, ch) => cb(err, ch)),
        close: (graceMs = 300) => {
          lostReason ??= 'the session ended';
          try {
            client.end();
          } catch {
            /* already gone */
          }
          setTimeout(() => sock.destroy(), graceMs).unref();
        },
      };
      agent = a;
      this.agents.add(a);
      log.debug({ session: g.sessionId, from: remote, connection: a.id }, 'tunnel endpoint: agent logged in');
    });

    client.on('session', (_accept, reject) => {
      log.warn({ session: grant?.sessionId, from: remote }, 'tunnel endpoint: refused a session channel (shell/exec/subsystem)');
      reject();
    });
    client.on('openssh.streamlocal', (_accept, reject, i) => {
      log.warn({ session: grant?.sessionId, from: remote, socketPath: String(i.socketPath).slice(0, 200) }, 'tunnel endpoint: refused a Unix socket channel');
      reject();
    });

    client.on('tcpip', (accept, reject, i) => {
      const a = agent;
      if (!a) return reject();
      switch (decideDirect(i.destIP, i.destPort, this.o.apiPort)) {
        case 'hub-api': {
          const up = tcpConnect({ host: '127.0.0.1', port: this.o.apiPort!, noDelay: true, allowHalfOpen: true });
          up.once('connect', () => {
            const ch = accept();
            if (!ch) return void up.destroy();
            splice(ch, up);
          });
          up.once('error', () => {
            up.destroy();
            reject();
          });
          return;
        }
        case 'status':
          return this.statusChannel(a, accept());
        default:
          log.warn({ session: a.sessionId, from: remote, dest: `${String(i.destIP).slice(0, 100)}:${i.destPort}` }, 'tunnel endpoint: refused a direct-tcpip channel');
          reject();
      }
    });

    client.on('request', (accept, reject, name, i) => {
      const a = agent;
      if (!a || (name !== 'tcpip-forward' && name !== 'cancel-tcpip-forward')) {
        log.warn({ session: a?.sessionId, from: remote, request: name }, 'tunnel endpoint: refused a global request');
        return reject?.();
      }
      const { bindAddr, bindPort } = i as ssh2.TcpipBindInfo;
      const refusal = forwardRefusal(a, bindAddr, bindPort);
      if (refusal) {
        log.warn({ session: a.sessionId, from: remote, refused: refusal }, `tunnel endpoint: refused ${name}`);
        return reject?.();
      }
      accept?.();
      if (name === 'tcpip-forward' && !a.forwarded) {
        a.forwarded = true;
        this.announceForward(a);
        this.emit('forward', a);
      } else if (name === 'cancel-tcpip-forward' && a.forwarded) {
        a.forwarded = false;
        this.emit('lost', a, 'the agent cancelled its forward');
      }
    });

    client.on('error', (err: Error & { level?: string }) => {
      if (err.level === 'client-timeout') {
        lostReason ??= `no answer to keepalives for ${(((KEEPALIVE_MISSED + 1) * this.o.keepaliveMs) / 1000).toFixed(1)} s`;
        sock.destroy();
      } else lostReason ??= err.message;
    });
    client.on('close', () => {
      const a = agent;
      if (!a) return;
      this.agents.delete(a);
      if (a.forwarded) {
        a.forwarded = false;
        this.emit('lost', a, lostReason ?? 'the connection closed');
      }
      log.debug({ session: a.sessionId, from: remote, connection: a.id, why: lostReason }, 'tunnel endpoint: agent connection closed');
    });
  }

  /** Tells each status channel of `a` that its forward is in place (FORWARD_UP), once. */
  private announceForward(a: AgentConnection): void {
    const waiting = this.statusWaiters.get(a);
    this.statusWaiters.delete(a);
    for (const ch of waiting ?? []) if (!ch.destroyed) ch.write(FORWARD_UP);
  }

  /**
   * Reads the agent's status lines ({"phase":…,"port":…}), bounded. Writes one line back:
   * FORWARD_UP once this connection holds its reverse forward (at once if it does already),
   * the proof an agent that cannot see the forward's reply (OpenSSH's ssh) waits for.
   */
  private statusChannel(a: AgentConnection, ch: ssh2.ServerChannel | undefined): void {
    if (!ch) return;
    if (a.forwarded) ch.write(FORWARD_UP);
    else {
      const waiting = this.statusWaiters.get(a) ?? new Set<ssh2.ServerChannel>();
      waiting.add(ch);
      this.statusWaiters.set(a, waiting);
      ch.on('close', () => waiting.delete(ch));
    }
    let buf = '';
    let total = 0;
    ch.setEncoding('utf8');
    ch.on('data', (d: string) => {
      total += d.length;
      if (total > MAX_STATUS_BYTES * 16) return void ch.destroy();
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const status = parseStatusPush(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (status) this.emit('status', a, status);
      }
      if (buf.length > MAX_STATUS_BYTES) ch.destroy();
    });
    ch.on('error', () => ch.destroy());
  }
}
