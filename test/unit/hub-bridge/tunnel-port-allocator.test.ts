// Hub-side tunnel ports: skips ports of live sessions and ports bound right now, spreads
// over the range, and says clearly when the range is exhausted.
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { allocatePort, PortsExhaustedError } from '../../../hub-bridge/tunnel/port-allocator.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function bindFree(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    servers.push(s);
    s.listen({ host: '127.0.0.1', port: 0 }, () => resolve((s.address() as { port: number }).port));
  });
}

describe('allocatePort', () => {
  it('never hands out a port a live session holds or another process has bound', async () => {
    const bound = await bindFree();
    const range = { start: bound - 2, end: bound + 2 };
    const inUse = new Set([bound - 2, bound + 1]);
    const got = new Set<number>();
    for (let i = 0; i < 40; i++) got.add(await allocatePort(range, inUse));
    expect([...got].sort()).toEqual([bound - 1, bound + 2].filter((p) => !inUse.has(p) && p !== bound).sort());
  });

  it('starts at a random point of the range', async () => {
    const start = 41000;
    const seen = new Set<number>();
    for (const r of [0, 0.25, 0.5, 0.99]) seen.add(await allocatePort({ start, end: start + 99 }, new Set(), () => r));
    expect(seen.size).toBeGreaterThan(1);
  });

  it('a clear error when every port is taken', async () => {
    const bound = await bindFree();
    const err = await allocatePort({ start: bound, end: bound + 1 }, new Set([bound + 1])).catch((e) => e);
    expect(err).toBeInstanceOf(PortsExhaustedError);
    expect(err.message).toMatch(new RegExp(`no free hub-side port in ${bound}-${bound + 1}: 1 held by live sessions, 1 bound by other processes.*ports. in hub-bridge.yaml`));
    await expect(allocatePort({ start: 10, end: 5 }, new Set())).rejects.toThrow(RangeError);
  });
});
