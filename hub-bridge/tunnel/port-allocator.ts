// Hub-side loopback ports for tunnel ends. A port is handed out only when no live session
// holds it AND nothing is bound to it on 127.0.0.1 right now (e.g. a forward of a job
// whose sshd connection has not died yet, or an unrelated service).
import { createServer } from 'node:net';

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

/** True when 127.0.0.1:port can be bound at this moment. */
export function canBindLoopback(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * A port of `range` that is not in `inUse` and is free on 127.0.0.1. The scan starts at a
 * random port (so sessions spread over the range) and wraps around once.
 */
export async function allocatePort(range: PortRange, inUse: ReadonlySet<number>, random: () => number = Math.random): Promise<number> {
  if (!Number.isInteger(range.start) || !Number.isInteger(range.end) || range.start < 1 || range.end > 65535 || range.end < range.start) {
    throw new RangeError(`invalid port range ${range.start}-${range.end}`);
  }
  const size = range.end - range.start + 1;
  const offset = Math.floor(random() * size) % size;
  let bound = 0;
  for (let i = 0; i < size; i++) {
    const port = range.start + ((offset + i) % size);
    if (inUse.has(port)) continue;
    if (await canBindLoopback(port)) return port;
    bound++;
  }
  const used = [...inUse].filter((p) => p >= range.start && p <= range.end).length;
  throw new PortsExhaustedError(
    `no free hub-side port in ${range.start}-${range.end}: ${used} held by live sessions, ${bound} bound by other processes on 127.0.0.1. ` +
      'Widen `ports` in hub-bridge.yaml or stop sessions.',
  );
}
