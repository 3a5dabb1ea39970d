// Hub-side tunnel ports: binding IS the allocation (the bridge listens on 127.0.0.1:P
// from grant to end, so nobody else can), ports other programs hold are skipped and
// reported, allocation spreads over the range and says clearly when it is exhausted.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PortsExhaustedError, SessionPorts } from '../../../hub-bridge/tunnel/session-ports.js';

const servers: Server[] = [];
const holders: SessionPorts[] = [];
afterEach(async () => {
  holders.splice(0).forEach((h) => h.closeAll());
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function bind(port = 0): Promise<number | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(null));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      servers.push(s);
      resolve((s.address() as { port: number }).port);
    });
  });
}

function ports(onConnection: (port: number, sock: Socket) => void = (_p, s) => s.destroy()) {
  const h = new SessionPorts(onConnection);
  holders.push(h);
  return h;
}

describe('SessionPorts', () => {
  it('holds what it allocates: nobody else can bind it, connections reach the holder', async () => {
    const got: number[] = [];
    const h = ports((port, sock) => {
      got.push(port);
      sock.end('held');
    });
    const base = (await bind())!;
    servers.pop()!.close();
    const { port } = await h.allocate({ start: base, end: base });
    expect(port).toBe(base);
    expect(await bind(port)).toBeNull(); // EADDRINUSE for anyone else, also 0.0.0.0 below
    const any = await new Promise<boolean>((r) => {
      const s = createServer();
      s.once('error', () => r(false));
      s.listen({ host: '0.0.0.0', port }, () => s.close(() => r(true)));
    });
    expect(any).toBe(false);
    const reply = await new Promise<string>((r) => {
      let d = '';
      connect(port, '127.0.0.1').on('data', (b) => (d += b)).on('close', () => r(d));
    });
    expect(reply).toBe('held');
    expect(got).toEqual([port]);
    h.release(port);
    await expect.poll(() => bind(port).then((p) => p !== null)).toBe(true);
  });

  it('skips ports other programs hold and reports them; never a port it holds already', async () => {
    const foreign = (await bind())!;
    const h = ports();
    const range = { start: foreign, end: foreign + 4 };
    const got = new Set<number>();
    const reported = new Set<number>();
    for (let i = 0; i < 4; i++) {
      const a = await h.allocate(range, () => 0).catch(() => null); // the scan starts at the foreign port
      if (!a) break;
      got.add(a.port);
      a.foreign.forEach((p) => reported.add(p));
    }
    expect(got.has(foreign)).toBe(false);
    expect(got.size).toBeGreaterThanOrEqual(3); // (others on this machine may hold a neighbour too)
    expect(reported.has(foreign)).toBe(true);
  });

  it('starts at a random point of the range', async () => {
    const base = (await bind())!;
    servers.pop()!.close();
    const seen = new Set<number>();
    for (const r of [0, 0.3, 0.6, 0.99]) {
      const h = ports();
      seen.add((await h.allocate({ start: base, end: base + 9 }, () => r)).port);
      h.closeAll();
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it('a clear error when every port is taken', async () => {
    const foreign = (await bind())!;
    const h = ports();
    const mine = await h.hold(foreign + 1);
    const err = await h.allocate({ start: foreign, end: foreign + (mine === true ? 1 : 0) }).catch((e) => e);
    expect(err).toBeInstanceOf(PortsExhaustedError);
    expect(err.message).toMatch(new RegExp(`no free hub-side port in ${foreign}-\\d+: \\d held by live sessions, 1 bound by other programs.*ports. in hub-bridge.yaml`));
    await expect(h.allocate({ start: 10, end: 5 })).rejects.toThrow(RangeError);
  });

  it('hold() takes a given port back (after a restart), or says why not', async () => {
    const foreign = (await bind())!;
    const h = ports();
    expect(await h.hold(foreign)).toBe('EADDRINUSE');
    servers.pop()!.close();
    await expect.poll(() => h.hold(foreign)).toBe(true);
    expect(h.isHeld(foreign)).toBe(true);
  });
});
