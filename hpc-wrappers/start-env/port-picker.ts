// Picks a free TCP port in a range by trying random ports and binding them for a moment.
// Ports outside the kernel's ephemeral range come first: the kernel gives those ports to
// outgoing connections (which then hold them), and a connect to a not-yet-listening port
// inside it can connect to itself (self-connect.ts). jupyter.portRange's default
// 49152-65000 overlaps Linux's default 32768-60999, so the server gets 61000-65000 when one
// of those is free, else any port of the range.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface PortInterval {
  start: number;
  end: number;
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** The kernel's ephemeral port range (Linux), or null where it cannot be read. */
export function ephemeralPorts(file = '/proc/sys/net/ipv4/ip_local_port_range'): PortInterval | null {
  try {
    const [start, end] = readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
    return Number.isInteger(start) && Number.isInteger(end) && start! <= end! ? { start: start!, end: end! } : null;
  } catch {
    return null;
  }
}

/** The parts of `range` outside `skip` (none, one or two intervals). */
export function outside(range: PortInterval, skip: PortInterval): PortInterval[] {
  const parts: PortInterval[] = [];
  if (range.start < skip.start) parts.push({ start: range.start, end: Math.min(range.end, skip.start - 1) });
  if (range.end > skip.end) parts.push({ start: Math.max(range.start, skip.end + 1), end: range.end });
  return parts;
}

/** Up to `tries` random ports of `pool` (disjoint intervals) not tried before; the first that binds. */
async function pickIn(host: string, pool: PortInterval[], tries: number, seen: Set<number>): Promise<number | null> {
  const size = pool.reduce((n, p) => n + p.end - p.start + 1, 0);
  const portAt = (k: number): number => {
    for (const p of pool) {
      if (k <= p.end - p.start) return p.start + k;
      k -= p.end - p.start + 1;
    }
    throw new Error('unreachable: k is below the pool size');
  };
  for (let i = 0; i < tries; i++) {
    const port = portAt(Math.floor(Math.random() * size));
    if (seen.has(port)) continue;
    seen.add(port);
    if (await canBind(host, port)) return port;
  }
  return null;
}

export async function pickFreePort(host: string, range: PortInterval, tries = 64, ephemeral: PortInterval | null = ephemeralPorts()): Promise<number> {
  const seen = new Set<number>();
  const preferred = ephemeral ? outside(range, ephemeral) : [];
  for (const pool of preferred.length ? [preferred, [range]] : [[range]]) {
    const port = await pickIn(host, pool, tries, seen);
    if (port !== null) return port;
  }
  throw new Error(`no free port on ${host} in ${range.start}-${range.end} after ${seen.size} tries (jupyter.portRange in hpc-wrap.yaml)`);
}
