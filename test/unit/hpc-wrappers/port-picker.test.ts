// The server's port: outside the kernel's ephemeral range when the range allows (a port
// there can be held by an outgoing connection, or connected to itself by a probe), and a
// probe that did connect to itself lets go of the port at once.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ephemeralPorts, outside, pickFreePort } from '../../../hpc-wrappers/start-env/port-picker.js';
import { connectedToItself, dropIfSelfConnected } from '../../../hpc-wrappers/start-env/self-connect.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});
const listen = (port: number, host = '127.0.0.1') =>
  new Promise<Server>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ port, host, exclusive: true }, () => {
      servers.push(s);
      resolve(s);
    });
  });
const freeHighPort = async () => {
  const s = await listen(0);
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  servers.splice(servers.indexOf(s), 1);
  return port;
};

describe('pickFreePort', () => {
  it("takes the server's port outside Linux's default ephemeral range when jupyter.portRange's default reaches beyond it", async () => {
    const picks = await Promise.all(Array.from({ length: 30 }, () => pickFreePort('127.0.0.1', { start: 49152, end: 65000 }, 64, { start: 32768, end: 60999 })));
    for (const p of picks) expect(p).toBeGreaterThanOrEqual(61000);
    for (const p of picks) expect(p).toBeLessThanOrEqual(65000);
  });

  it('a range wholly inside the ephemeral range is used as it is', async () => {
    const p = await pickFreePort('127.0.0.1', { start: 50000, end: 50100 }, 64, { start: 32768, end: 60999 });
    expect(p).toBeGreaterThanOrEqual(50000);
    expect(p).toBeLessThanOrEqual(50100);
  });

  it('when every port outside the ephemeral range is taken, one inside it is used', async () => {
    const p = await freeHighPort();
    await listen(p);
    // the range [p-1, p]: p is the only preferred port (outside "ephemeral" = [..., p-1]) and it is taken
    const got = await pickFreePort('127.0.0.1', { start: p - 1, end: p }, 64, { start: 1024, end: p - 1 });
    expect(got).toBe(p - 1);
  });

  it('says which range and key when nothing is free', async () => {
    const p = await freeHighPort();
    await listen(p);
    await expect(pickFreePort('127.0.0.1', { start: p, end: p }, 8, null)).rejects.toThrow(`no free port on 127.0.0.1 in ${p}-${p}`);
  });

  it('reads the kernel range; the parts of a range outside another', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ports-'));
    writeFileSync(join(dir, 'range'), '32768\t60999\n');
    expect(ephemeralPorts(join(dir, 'range'))).toEqual({ start: 32768, end: 60999 });
    expect(ephemeralPorts(join(dir, 'missing'))).toBeNull();
    expect(outside({ start: 49152, end: 65000 }, { start: 32768, end: 60999 })).toEqual([{ start: 61000, end: 65000 }]);
    expect(outside({ start: 1000, end: 2000 }, { start: 1500, end: 1600 })).toEqual([{ start: 1000, end: 1499 }, { start: 1601, end: 2000 }]);
    expect(outside({ start: 1500, end: 1600 }, { start: 1000, end: 2000 })).toEqual([]);
  });
});

describe('a probe connected to itself', () => {
  /** What the kernel can do to a probe of a port nobody listens on: source port = destination port. */
  const selfConnect = (port: number) =>
    new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.1', localPort: port });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });

  it('is recognised and reset, and the server can bind the port right after', async () => {
    const port = await freeHighPort();
    const sock = await selfConnect(port);
    expect(connectedToItself(sock)).toBe(true);
    expect(dropIfSelfConnected(sock)).toBe(true);
    await expect(listen(port)).resolves.toBeDefined();
  });

  it('a real connection to a listening server is left alone', async () => {
    const srv = await listen(0);
    const sock = await new Promise<Socket>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: (srv.address() as { port: number }).port }, () => resolve(s));
    });
    expect(dropIfSelfConnected(sock)).toBe(false);
    sock.destroy();
  });
});
