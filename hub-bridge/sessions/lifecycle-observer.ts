// Hooks the session service and the status poller call at each lifecycle step, so that
// metrics and accounting can watch without the core knowing about them. An observer that
// throws is logged and ignored: watching must never break a session.
import type { Logger } from 'pino';
import type { JobStatus } from '../cluster/hpc-wrap-client.js';
import type { Session } from './types.js';

/** Why a session failed: the refusal code or reason the service recorded, and the job's last status if it ran. */
export interface FailureInfo {
  /** hpc-wrap's refusal code (scheduler, maintenance, invalid), 'transport', or the job's reason/state. */
  reason: string | null;
  /** The job's last status when it ended before the server was ready; null for a failed submit. */
  status: JobStatus | null;
}

export interface SessionObserver {
  /** A start request was accepted and persisted. */
  created?(s: Session): void;
  /** The batch job was submitted. */
  submitted?(s: Session, jobId: string): void;
  /** The scheduler runs the job (the queue wait ends). */
  running?(s: Session): void;
  /** The server answered its readiness probe. */
  ready?(s: Session): void;
  /** The session failed before or while starting. */
  failed?(s: Session, info: FailureInfo): void;
  /** The session ended without a failure (stopped, or its job ended after it was ready). */
  stopped?(s: Session): void;
  /** The job's tunnel changed state (connecting, up, down), as start-env reported it. */
  tunnel?(s: Session, state: string, before: string | null): void;
}

export interface PollOutcome {
  seconds: number;
  /** Job ids in the ONE jobstate call. */
  jobs: number;
  /** ok; unreachable = hpc-wrap answered but the scheduler did not; transport = hpc-wrap could not be run. */
  outcome: 'ok' | 'unreachable' | 'transport';
}

export interface PollObserver {
  polled?(p: PollOutcome): void;
}

type HookArgs<F> = F extends ((...a: infer A) => unknown) | undefined ? A : never;

/** Fan-out to every registered observer; each call is isolated by try/catch. */
export class Observers<T extends object> {
  private readonly list: T[] = [];
  constructor(private readonly log: Logger | null = null) {}

  add(o: T): void {
    this.list.push(o);
  }

  notify<K extends keyof T>(hook: K, ...args: HookArgs<T[K]>): void {
    for (const o of this.list) {
      const fn = o[hook];
      if (typeof fn !== 'function') continue;
      try {
        (fn as (...a: unknown[]) => void).apply(o, args);
      } catch (err) {
        this.log?.warn({ hook: String(hook), err: (err as Error).message }, 'an observer failed (ignored)');
      }
    }
  }
}
