// What the tunnel endpoint learns, shown in the session: its tunnel state (in the session
// view, so the hub's poll() and progress can read it), an event when the tunnel comes up,
// is lost or is back, and a nudge to the poller when the tunnel or the server comes up,
// so that the readiness probe runs at once. Also the start-up step that takes back every
// live session's port, and ends the sessions whose port another program took meanwhile.
import type { Logger } from 'pino';
import type { SessionStore } from '../store/session-store.js';
import type { Tunnels } from '../tunnel/tunnels.js';
import type { SessionService } from './session-service.js';
import { isTerminal } from './types.js';

export function wireTunnelEvents(tunnels: Tunnels, store: SessionStore, service: SessionService, wake: () => void): void {
  tunnels.on('change', (c) => {
    const s = store.get(c.sessionId);
    if (!s) return;
    store.update(c.sessionId, { tunnelState: c.state, tunnelSince: c.since });
    // metrics call a tunnel that waits for its agent "connecting"
    const named = (t: string | null) => (t === 'waiting' ? 'connecting' : t);
    service.observers.notify('tunnel', s, named(c.state)!, named(c.previous));
    if (isTerminal(s.state) || s.state === 'stopping' || c.state === 'closed') return;
    if (c.state === 'up') {
      service.emit(c.sessionId, 'info', c.previous === 'down' ? 'The tunnel to your server is up again' : `Tunnel up: the hub reaches your server through 127.0.0.1:${c.port}`);
      if (s.state !== 'ready') wake();
    } else if (c.state === 'down') {
      service.emit(c.sessionId, 'info', `The tunnel to your server is down (${c.reason ?? 'connection lost'}); reconnecting`);
    }
  });
  // the agent says the server listens: probe now rather than at the next poll
  tunnels.on('status', (sessionId, st) => {
    if (st.phase === 'listening' && store.get(sessionId)?.state === 'starting') wake();
  });
}

/**
 * On start-up, before the endpoint listens: every live session gets its port back. A port
 * another program took while the bridge was down is never routed to it: that session is
 * ended, with an event and a log line naming the port.
 */
export async function restoreTunnels(tunnels: Tunnels, store: SessionStore, service: SessionService, log: Logger): Promise<void> {
  const lost = await tunnels.restore(store.live());
  for (const l of lost) {
    const why = l.error === 'EADDRINUSE' ? 'another program took it while the bridge was down' : `it cannot be bound (${l.error})`;
    log.error({ session: l.sessionId, port: l.port, error: l.error }, `tunnel port 127.0.0.1:${l.port} could not be taken back after a restart; the session is ended`);
    await service.abort(
      l.sessionId,
      `The bridge could not take back this server's hub-side port 127.0.0.1:${l.port}: ${why}. ` +
        'The server was stopped so that none of its traffic can reach that program; please start it again.',
      'tunnel-port-lost',
    );
  }
  // sessions restored as down/waiting: show it (their agents reconnect on their own)
  for (const s of store.live()) {
    const t = tunnels.state(s.id);
    if (t && (s.tunnelState !== t.state)) store.update(s.id, { tunnelState: t.state, tunnelSince: t.since });
  }
}
