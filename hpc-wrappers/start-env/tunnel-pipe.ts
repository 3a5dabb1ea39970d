// Stream plumbing of the tunnel agent: joining a TCP socket and an SSH channel, and the
// agent's own TCP connection to the hub's sshd.
import { connect as tcpConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * A TCP connection whose writes within one tick leave as ONE writev. ssh2 writes every
 * encrypted packet in up to four pieces (length, body, final block, MAC); written one by
 * one they cost a syscall each, which halved the tunnel's throughput.
 */
export function batchingSocket(host: string, port: number): Socket {
  const sock = tcpConnect({ host, port, noDelay: true });
  const write = sock.write.bind(sock) as (...args: unknown[]) => boolean;
  let corked = false;
  sock.write = ((...args: unknown[]) => {
    if (!corked) {
      corked = true;
      sock.cork();
      process.nextTick(() => {
        corked = false;
        sock.uncork();
      });
    }
    return write(...args);
  }) as Socket['write'];
  return sock;
}

/** Joins two byte streams both ways; tears both down when either fails or closes (no half-open leftovers). */
export function splice(a: Duplex, b: Duplex, track?: Set<Duplex>): void {
  track?.add(a).add(b);
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    a.destroy();
    b.destroy();
    track?.delete(a);
    track?.delete(b);
  };
  a.on('error', finish);
  b.on('error', finish);
  a.on('close', finish);
  b.on('close', finish);
  a.pipe(b);
  b.pipe(a);
}
