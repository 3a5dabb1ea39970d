// Stream plumbing of the tunnel endpoint: joining a TCP socket and an SSH channel, and
// coalescing the small writes ssh2 makes per packet.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Makes the writes of one tick leave as ONE writev: ssh2 writes each encrypted packet in
 * up to four pieces (length, body, final block, MAC), a syscall each when written alone.
 */
export function coalesceWrites(sock: Socket): Socket {
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

/** Joins two byte streams both ways; tears both down when either fails or closes. */
export function splice(a: Duplex, b: Duplex, onClose?: () => void): void {
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    a.destroy();
    b.destroy();
    onClose?.();
  };
  a.on('error', finish);
  b.on('error', finish);
  a.on('close', finish);
  b.on('close', finish);
  a.pipe(b);
  b.pipe(a);
}
