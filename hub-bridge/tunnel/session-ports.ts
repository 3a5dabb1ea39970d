// The hub-side loopback ports of the tunnels. From the moment a session is granted its
// port P until the session ends, the bridge itself listens on 127.0.0.1:P: binding IS the
// allocation, so no other account can bind P (during the queue wait, a reconnect of the
// agent, or ever), and whatever the hub's proxy sends to P reaches this process only.
// Ports of the range that other programs hold are skipped and counted; they never block
// the rest of the range.
import { createServer, type Server, type Socket } from 'node:net';

export interface PortRange {
  start: number;
  end: number;
}

export class PortsExhaustedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PortsExhaustedError';
  }
}

export interface Allocation {
  port: number;
  /** Ports of the range found held by other programs during this scan. */
  foreign: number[];
}

type BindResult = { server: Server } | { error: string };

/** Listens on 127.0.0.1:port, or says why not (EADDRINUSE: someone else holds it). */
function bindLoopback(port: number, onConnection: (sock: Socket) => void): Promise<BindResult> {
  const server = createServer({ pauseOnConnect: true, noDelay: true, allowHalfOpen: true }, onConnection);
  return new Promise((resolve) => {
    server.once('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    server.listen({ host: '127.0.0.1', port, exclusive: true, backlog: 511 }, () => {
      server.removeAllListeners('error');
      server.on('error', () => {}); // accept errors (EMFILE …) must not crash the bridge
      resolve({ server });
    });
  });
}

export class SessionPorts {
  private readonly held = new Map<number, Server>();
  private readonly binding = new Set<number>();

  /** `onConnection(port, socket)`: a connection accepted on a held port (paused). */
  constructor(private readonly onConnection: (port: number, sock: Socket) => void) {}

  isHeld(port: number): boolean {
    return this.held.has(port);
  }

  get size(): number {
    return this.held.size;
  }

  /**
   * Binds a free port of `range` and keeps it. The scan starts at a random port (sessions
   * spread over the range) and wraps around once.
   */
  async allocate(range: PortRange, random: () => number = Math.random): Promise<Allocation> {
    if (!Number.isInteger(range.start) || !Number.isInteger(range.end) || range.start < 1 || range.end > 65535 || range.end < range.start) {
      throw new RangeError(`invalid port range ${range.start}-${range.end}`);
    }
    const size = range.end - range.start + 1;
    const offset = Math.floor(random() * size) % size;
    const foreign: number[] = [];
    const refused: string[] = [];
    for (let i = 0; i < size; i++) {
      const port = range.start + ((offset + i) % size);
      if (this.held.has(port) || this.binding.has(port)) continue;
      const r = await this.hold(port);
      if (r === true) return { port, foreign };
      if (r === 'EADDRINUSE') foreign.push(port);
      else if (refused.length < 3) refused.push(`${port}: ${r}`);
    }
    throw new PortsExhaustedError(
      `no free hub-side port in ${range.start}-${range.end}: ${this.held.size} held by live sessions, ${foreign.length} bound by other programs` +
        `${refused.length ? `, others refused (${refused.join('; ')})` : ''}. Widen \`ports\` in hub-bridge.yaml or stop sessions.`,
    );
  }

  /** Binds `port` (a session's P after a restart): true, or the reason it cannot be had. */
  async hold(port: number): Promise<true | string> {
    if (this.held.has(port)) return true;
    if (this.binding.has(port)) return 'EADDRINUSE';
    this.binding.add(port);
    try {
      const r = await bindLoopback(port, (sock) => this.onConnection(port, sock));
      if ('error' in r) return r.error;
      this.held.set(port, r.server);
      return true;
    } finally {
      this.binding.delete(port);
    }
  }

  /** Stops listening on `port` at once; connections already accepted are the caller's to close. */
  release(port: number): void {
    const server = this.held.get(port);
    this.held.delete(port);
    server?.close();
  }

  closeAll(): void {
    for (const p of [...this.held.keys()]) this.release(p);
  }
}
