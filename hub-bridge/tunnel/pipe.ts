// Stream plumbing of the tunnel endpoint: joining a TCP socket and an SSH channel, and
// coalescing the small writes ssh2 makes per packet.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Makes writes leave as ONE writev per tick (`'tick'`: ssh2 writes each encrypted packet in
 * up to four pieces, a syscall each when written alone) or per turn of the event loop
 * (`'loop'`: everything decrypted from the reads of one turn, several SSH packets, goes to
 * the hub-side socket in one syscall instead of one per packet).
 */
export function coalesceWrites(sock: Socket, per: 'tick' | 'loop' = 'tick'): Socket {
  const write = sock.write.bind(sock) as (...args: unknown[]) => boolean;
  const later = per === 'tick' ? process.nextTick : setImmediate;
  let corked = false;
  const flush = () => {
    corked = false;
    sock.uncork();
  };
  sock.write = ((...args: unknown[]) => {
    if (!corked) {
      corked = true;
      sock.cork();
      later(flush);
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
