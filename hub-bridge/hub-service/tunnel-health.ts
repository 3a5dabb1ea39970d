// The admin page's "tunnel health" column takes the tunnel's state and since when from the
// session itself (Session.tunnelState/tunnelSince, kept by sessions/session-tunnels.ts
// from the bridge's own tunnel endpoint). What the session does not keep is how often the
// tunnel came back after being lost: this board counts that from the session service's
// lifecycle hooks (as the metrics do, which have no per-session label), in a small map
// emptied as sessions end. After a bridge restart the count starts again at 0.
import type { SessionObserver } from '../sessions/lifecycle-observer.js';
import type { Session } from '../sessions/types.js';

export class TunnelHealthBoard implements SessionObserver {
  private readonly bySession = new Map<string, number>();

  constructor(private readonly max = 10_000) {}

  tunnel(s: Session, state: string, before: string | null): void {
    if (!(state === 'up' && before === 'down')) return;
    const n = (this.bySession.get(s.id) ?? 0) + 1;
    this.bySession.delete(s.id); // re-inserted last: the oldest entries go first when full
    this.bySession.set(s.id, n);
    while (this.bySession.size > this.max) this.bySession.delete(this.bySession.keys().next().value!);
  }

  failed(s: Session): void {
    this.bySession.delete(s.id);
  }

  stopped(s: Session): void {
    this.bySession.delete(s.id);
  }

  /** How often this session's tunnel came up again after being down (since the bridge started). */
  reconnects(sessionId: string): number {
    return this.bySession.get(sessionId) ?? 0;
  }
}
