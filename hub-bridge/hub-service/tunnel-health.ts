// The admin page's "tunnel health" column: the last tunnel state start-env reported for each
// live session (connecting, up, down), when it changed, and how often it came back up. It
// watches the session service's lifecycle hooks like the metrics do (no per-session label
// there, so the page keeps its own small map, emptied as sessions end). After a bridge
// restart the first status report fills it again (the service announces the state anew).
import type { SessionObserver } from '../sessions/lifecycle-observer.js';
import type { Session } from '../sessions/types.js';

export interface TunnelHealth {
  state: string;
  /** When it entered this state (ISO). */
  since: string;
  /** How often it came up again after being down. */
  reconnects: number;
}

export class TunnelHealthBoard implements SessionObserver {
  private readonly bySession = new Map<string, TunnelHealth>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly max = 10_000,
  ) {}

  tunnel(s: Session, state: string, before: string | null): void {
    const prev = this.bySession.get(s.id);
    const reconnects = (prev?.reconnects ?? 0) + (state === 'up' && before === 'down' ? 1 : 0);
    this.bySession.delete(s.id); // re-inserted last: the oldest entries go first when full
    this.bySession.set(s.id, { state, since: new Date(this.now()).toISOString(), reconnects });
    while (this.bySession.size > this.max) this.bySession.delete(this.bySession.keys().next().value!);
  }

  failed(s: Session): void {
    this.bySession.delete(s.id);
  }

  stopped(s: Session): void {
    this.bySession.delete(s.id);
  }

  get(sessionId: string): TunnelHealth | null {
    return this.bySession.get(sessionId) ?? null;
  }
}
