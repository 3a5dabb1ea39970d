// When the status poller next asks about each session. Waiting in the queue must be cheap
// (issue 10): a queued session is asked at the starting pace right after its submit (an idle
// cluster starts the job within a second or two), then ever less often (doubling) up to
// status.queuedIntervalSeconds, where all long-waiting sessions share one grid so that they
// are asked together in ONE call. From the moment its job runs a session is asked at the
// starting pace; a ready one at status.intervalSeconds (also on a shared grid).
import type { Session, SessionState } from './types.js';

export interface PollerTiming {
  intervalMs: number;
  startingIntervalMs: number;
  /** The slowest pace of a queued session; absent: 10 s (never faster than the starting pace). */
  queuedIntervalMs?: number;
}

interface Entry {
  state: SessionState;
  due: number;
  delay: number;
}

export class PollPace {
  private readonly entries = new Map<string, Entry>();
  private readonly queuedMs: number;

  constructor(private readonly timing: PollerTiming) {
    this.queuedMs = Math.max(timing.startingIntervalMs, timing.queuedIntervalMs ?? 10_000);
  }

  /**
   * The sessions to ask about now: those due (within half the starting pace, so that
   * nearly-due ones share this call) and those whose state changed since they were last
   * asked (a new state is asked about at once). Forgets sessions that are no longer live.
   */
  due(live: readonly Session[], now: number): Session[] {
    const slack = this.timing.startingIntervalMs / 2;
    const seen = new Set<string>();
    const out: Session[] = [];
    for (const s of live) {
      seen.add(s.id);
      const e = this.entries.get(s.id);
      if (!e || e.state !== s.state || e.due <= now + slack) out.push(s);
    }
    if (seen.size !== this.entries.size) for (const id of this.entries.keys()) if (!seen.has(id)) this.entries.delete(id);
    return out;
  }

  /** These sessions were just asked about (in the state they are in now). */
  asked(sessions: readonly Session[], now: number): void {
    for (const s of sessions) {
      const prev = this.entries.get(s.id);
      const delay = this.delayAfter(s.state, prev);
      this.entries.set(s.id, { state: s.state, delay, due: this.dueAfter(now, delay, s.state) });
    }
  }

  /** The earliest time any known session is due, or null when none is known. */
  nextDue(): number | null {
    let min: number | null = null;
    for (const e of this.entries.values()) if (min === null || e.due < min) min = e.due;
    return min;
  }

  /** The delay the pace gives a session in this state (what the poller waits before asking again). */
  delayOf(id: string): number | null {
    return this.entries.get(id)?.delay ?? null;
  }

  dueNow(id: string, now: number): void {
    const e = this.entries.get(id);
    if (e) e.due = Math.min(e.due, now);
  }

  startingDueNow(now: number): void {
    for (const e of this.entries.values()) if (e.state === 'starting' || e.state === 'stopping' || e.state === 'submitting') e.due = Math.min(e.due, now);
  }

  private delayAfter(state: SessionState, prev: Entry | undefined): number {
    const { startingIntervalMs: fast, intervalMs } = this.timing;
    if (state === 'queued') return prev?.state === 'queued' ? Math.min(this.queuedMs, prev.delay * 2) : fast;
    if (state === 'ready') return Math.max(fast, intervalMs);
    return fast;
  }

  /** Slow paces sit on a shared grid (multiples of the delay), so sessions at that pace are asked together. */
  private dueAfter(now: number, delay: number, state: SessionState): number {
    const grid = (state === 'queued' && delay >= this.queuedMs) || state === 'ready';
    return grid ? (Math.floor((now + delay / 2) / delay) + 1) * delay : now + delay;
  }
}
