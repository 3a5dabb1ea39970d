// TCP self-connect: a connect to a local port nobody listens on yet can succeed — when the
// kernel happens to choose that same port as the connection's source port (possible for a
// port inside the ephemeral range; Linux's default 32768-60999 overlaps jupyter.portRange's
// default 49152-65000), the socket is connected to itself. A readiness probe would then
// believe the server listens, and the tunnel agent would relay the hub's request into a
// socket that echoes it back and holds the server's port. The port picker avoids the
// ephemeral range where it can (port-picker.ts); every connect to the server's port before
// it is known to listen also checks for this and lets go at once.
import type { Socket } from 'node:net';

export function connectedToItself(sock: Socket): boolean {
  return sock.localPort !== undefined && sock.localPort === sock.remotePort && sock.localAddress === sock.remoteAddress;
}

/**
 * Closes a socket connected to itself with a reset (no TIME_WAIT left holding the port for
 * the server's bind) and says so; false for a real connection.
 */
export function dropIfSelfConnected(sock: Socket): boolean {
  if (!connectedToItself(sock)) return false;
  sock.resetAndDestroy();
  return true;
}
