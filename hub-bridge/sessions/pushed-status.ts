// Readiness pushed, not polled: the hpc-wrap agent watches the run dirs of the live
// sessions and says when one changes (the job started, the server listens, it ended);
// the bridge then polls at once (one jobstate through the agent, then the readiness probe)
// instead of at its next tick. The tick stays the safety net: a lost event costs at most
// one interval. This module keeps the agent's watch set equal to the live sessions.
import type { Logger } from 'pino';
import type { EventFrame } from '../../contract/agent.js';
import type { HpcWrapClient } from '../cluster/hpc-wrap-client.js';
import type { SessionStore } from '../store/session-store.js';
import { isTerminal, type Session } from './types.js';

/** After a pushed "the server ended": polls that catch the job's end in the scheduler. */
const AFTER_EXIT_MS = [500, 1500, 4000, 10_000];

/** Whether a run-dir change can move this session on (anything else is left to the tick). */
export function worthPolling(s: Session, ev: EventFrame): boolean {
  if (s.state === 'stopping') return ev.exited || ev.phase === 'exited';
  if (s.state === 'ready') return ev.exited || ev.phase === 'exited';
  if (s.state === 'queued' || s.state === 'submitting') return true; // it started (or already ended)
  if (s.state === 'starting') return ev.phase === 'listening' || ev.phase === 'exited' || ev.exited;
  return false;
}

export class PushedStatus {
  private sent = '';
  private timer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> | null = null;
  private dirty = false;
  private stopped = false;
  /** The polls planned after a pushed exit (cleared on stop: the store closes after it). */
  private readonly followUps = new Set<NodeJS.Timeout>();
  /** Events that led to an immediate poll (tests, benchmarks). */
  pushes = 0;

  constructor(
    private readonly store: SessionStore,
    private readonly cluster: HpcWrapClient,
    private readonly pollNow: (sessionId: string) => void,
    private readonly log: Logger,
    private readonly resyncMs = 5000,
  ) {}

  start(): void {
    const agent = this.cluster.agent;
    if (!agent) return;
    agent.on('event', (ev) => this.onEvent(ev));
    agent.on('up', () => {
      this.sent = ''; // a new agent watches nothing yet
      this.sync();
    });
    this.timer = setInterval(() => this.sync(), this.resyncMs);
    this.timer.unref();
    this.sync();
  }

  /** Sessions were created or changed: bring the watch set up to date (coalesced). */
  sync(): void {
    if (this.stopped) return;
    if (this.syncing) {
      this.dirty = true;
      return;
    }
    this.syncing = this.send()
      .catch((err) => this.log.debug({ err: (err as Error).message }, 'agent watch update failed; the status tick covers the sessions'))
      .finally(() => {
        this.syncing = null;
        if (this.dirty) {
          this.dirty = false;
          this.sync();
        }
      });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const t of this.followUps) clearTimeout(t);
    this.followUps.clear();
  }

  private async send(): Promise<void> {
    const sessions = this.store
      .live()
      .filter((s) => s.jobId)
      .map((s) => ({ sessionId: s.id, user: s.user }))
      .sort((a, b) => (a.sessionId < b.sessionId ? -1 : 1));
    const key = JSON.stringify(sessions);
    if (key === this.sent) return;
    if (await this.cluster.watch(sessions)) this.sent = key;
  }

  private onEvent(ev: EventFrame): void {
    if (this.stopped) return;
    const s = this.store.get(ev.sessionId);
    if (!s || !worthPolling(s, ev)) return;
    this.pushes++;
    this.log.debug({ session: s.id, phase: ev.phase, exited: ev.exited }, 'run dir changed: polling now');
    this.pollNow(s.id);
    // the server ended: the scheduler shows the job ended a moment later (the batch script
    // still has to finish), and nothing more is written to the run dir; look again shortly
    if (ev.exited || ev.phase === 'exited') {
      for (const ms of AFTER_EXIT_MS) {
        const t = setTimeout(() => {
          this.followUps.delete(t);
          if (this.stopped) return;
          const cur = this.store.get(ev.sessionId);
          if (cur && !isTerminal(cur.state)) this.pollNow(cur.id);
        }, ms);
        t.unref();
        this.followUps.add(t);
      }
    }
  }
}
