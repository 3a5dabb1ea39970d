// The node-side end of the hub API forward: a TCP server on the node's 127.0.0.1 (a free
// port) whose connections become direct-tcpip channels to the hub's 127.0.0.1:hubApiPort
// (the only destination the tunnel key's permitopen allows). While the tunnel is down a
// connection waits for it to come back (up to `waitMs`), then is dropped.
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type ssh2 from 'ssh2';
import { splice } from './tunnel-pipe.js';

export interface HubApiForwarderOptions {
  hubApiPort: number;
  /** The live tunnel connection, waiting up to `ms` for one. */
  live(ms: number): Promise<ssh2.Client | null>;
  waitMs?: number;
}

export class HubApiForwarder {
  private server: Server | null = null;
  private readonly streams = new Set<Duplex>();
  port: number | null = null;

  constructor(private readonly opts: HubApiForwarderOptions) {}

  /** Starts listening on 127.0.0.1 (a free port); returns the port. */
  listen(): Promise<number> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (sock) => void this.handle(sock));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => {
        const addr = server.address();
        if (addr === null || typeof addr === 'string') return reject(new Error('the hub API forwarder has no TCP address'));
        this.port = addr.port;
        resolve(addr.port);
      });
    });
  }

  private async handle(sock: Socket): Promise<void> {
    this.streams.add(sock);
    sock.on('error', () => sock.destroy());
    sock.on('close', () => this.streams.delete(sock));
    const client = await this.opts.live(this.opts.waitMs ?? 10_000);
    if (!client || sock.destroyed) return void sock.destroy();
    client.forwardOut('127.0.0.1', sock.remotePort ?? 0, '127.0.0.1', this.opts.hubApiPort, (err, channel) => {
      if (err || sock.destroyed) {
        channel?.destroy();
        return void sock.destroy();
      }
      splice(sock, channel, this.streams);
      sock.resume();
    });
  }

  async close(): Promise<void> {
    for (const s of this.streams) s.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
