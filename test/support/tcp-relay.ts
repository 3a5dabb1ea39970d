// A TCP relay between tunnel agents and the tunnel endpoint, to break the network the way
// it breaks: cut every connection (both ends see it close), black-hole them (bytes stop
// flowing, nobody is told: only keepalives notice), or refuse new ones for a while.
import { connect, createServer, type Socket } from 'node:net';

export interface TcpRelay {
  port: number;
  /** Open relayed connections. */
  connections(): number;
  /** Ids of the open relayed connections (numbered from 1 in accept order). */
  openIds(): number[];
  /** Close every relayed connection (both sides). */
  cut(): void;
  /** Stop forwarding on every open connection without closing it; new connections pass. */
  blackhole(): void;
  /** While true, new connections are closed at once. */
  refuse(on: boolean): void;
  close(): Promise<void>;
}

export async function startRelay(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpRelay> {
  const pairs = new Set<{ id: number; a: Socket; b: Socket; dead: boolean }>();
  let refusing = false;
  let nextId = 1;
  const server = createServer({ noDelay: true }, (a) => {
    if (refusing) return void a.destroy();
    const b = connect({ host: targetHost, port: targetPort, noDelay: true });
    const pair = { id: nextId++, a, b, dead: false };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      a.destroy();
      b.destroy();
    };
    a.on('data', (d) => pair.dead || b.write(d));
    b.on('data', (d) => pair.dead || a.write(d));
    // a black-holed connection stays open however the far side ends: the silence is the point
    for (const s of [a, b]) {
      s.on('error', () => (pair.dead ? s.destroy() : end()));
      s.on('close', () => (pair.dead ? pairs.delete(pair) : end()));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    connections: () => [...pairs].filter((p) => !p.dead).length,
    openIds: () => [...pairs].filter((p) => !p.dead).map((p) => p.id),
    cut: () => {
      for (const p of [...pairs]) {
        p.a.destroy();
        p.b.destroy();
      }
    },
    blackhole: () => {
      for (const p of pairs) p.dead = true;
    },
    refuse: (on) => {
      refusing = on;
    },
    close: () =>
      new Promise((r) => {
        for (const p of [...pairs]) {
          p.a.destroy();
          p.b.destroy();
        }
        server.close(() => r());
      }),
  };
}
