// Getting a session's job submitted: the submit slots (cluster.submitConcurrency at once,
// submit-queue.ts), the secrets held in memory until startjob has them, the retry loop with
// backoff until the submit deadline when the scheduler or the cluster does not answer, and
// telling the sessions still waiting for a slot of such an outage at once. The session's
// lifecycle (failing, stopping, events) stays with SessionService, reached through the host.
import type { Logger } from 'pino';
import type { HubBridgeConfig } from '../../config/schema.js';
import { HpcWrapRefusal, SchedulerUnreachableError, type HpcWrapClient, type StartJobDocument } from '../cluster/hpc-wrap-client.js';
import type { SessionStore } from '../store/session-store.js';
import type { SubmitPlan, SubmitSecrets } from './create-request.js';
import type { Observers, SessionObserver } from './lifecycle-observer.js';
import { lostRequestMessage, maintenanceMessage, schedulerRefusal, submitFailedMessage } from './refusal-messages.js';
import { SubmitQueue } from './submit-queue.js';
import { isTerminal, type EventKind, type Session } from './types.js';

/** What the submitter needs of the session service. */
export interface SubmitterHost {
  readonly store: SessionStore;
  readonly cluster: HpcWrapClient;
  readonly config: HubBridgeConfig;
  readonly log: Logger;
  readonly observers: Observers<SessionObserver>;
  /** Wakes the poller (a job was submitted). */
  activity(): void;
  isClosed(): boolean;
  emit(id: string, kind: EventKind, message: string): void;
  fail(id: string, message: string, reason?: string | null): void;
  finishStopped(id: string, opts?: { cleanRunDir?: boolean }): void;
  kill(s: Session): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Submitter {
  /** Submits wait here for a slot (cluster.submitConcurrency at once). */
  readonly queue: SubmitQueue;
  /** The secret part of each not-yet-submitted startjob document; never stored (docs/contracts.md §2). */
  private readonly secrets = new Map<string, SubmitSecrets>();
  /** Sessions waiting for a submit slot, and those already told of an outage while waiting. */
  private readonly waiting = new Set<string>();
  private readonly toldUnreachable = new Set<string>();

  constructor(private readonly host: SubmitterHost) {
    this.queue = new SubmitQueue(host.config.cluster.submitConcurrency);
  }

  /** Keeps a new session's secrets in memory until its startjob has them. */
  hold(id: string, secrets: SubmitSecrets): void {
    this.secrets.set(id, secrets);
  }

  /** The session ended: its secrets are dropped. */
  forget(id: string): void {
    this.secrets.delete(id);
  }

  /** The submit, once a slot is free; a session stopped while it waited is never submitted. */
  enqueue(id: string): Promise<void> {
    const { store } = this.host;
    this.waiting.add(id);
    return this.queue.run(async () => {
      this.waiting.delete(id);
      if (this.host.isClosed()) return;
      const s = store.get(id);
      if (!s || isTerminal(s.state)) return;
      if (s.cancelRequested && !s.jobId) return this.host.finishStopped(id, { cleanRunDir: false });
      return this.submit(id);
    });
  }

  /**
   * The startjob document for a submit: the stored plan plus the secrets held in memory.
   * Without them (the bridge restarted meanwhile) only an adopt is possible: hpc-wrap then
   * reports the job an earlier attempt submitted, and submits nothing.
   */
  private documentFor(id: string, plan: SubmitPlan): StartJobDocument {
    const secrets = this.secrets.get(id);
    if (!secrets) return { ...plan, env: {}, webdav: null, tunnel: null, adoptOnly: true };
    const tunnel = plan.tunnel && secrets.tunnelPrivateKey ? { ...plan.tunnel, privateKey: secrets.tunnelPrivateKey } : null;
    return { ...plan, env: secrets.env, webdav: secrets.webdav, tunnel: tunnel as StartJobDocument['tunnel'] };
  }

  /**
   * Submits (or, after a restart, adopts: startjob is idempotent per session id). A
   * scheduler that does not answer and a transport hiccup are retried with backoff until
   * the submit deadline; a definite refusal fails the session at once with its reason.
   */
  private async submit(id: string): Promise<void> {
    const { store, cluster, config, log, observers } = this.host;
    const raw = store.submitDoc(id);
    if (!raw) return this.host.fail(id, lostRequestMessage(store.get(id)!));
    const plan = JSON.parse(raw) as SubmitPlan;
    const created = Date.parse(store.get(id)?.createdAt ?? new Date().toISOString());
    const deadline = created + config.cluster.submitDeadlineSeconds * 1000;
    let told = this.toldUnreachable.delete(id);
    for (let attempt = 1; ; attempt++) {
      if (this.host.isClosed()) return;
      const doc = this.documentFor(id, plan);
      try {
        const { jobId } = await cluster.startJob(doc);
        this.secrets.delete(id);
        if (jobId === null) {
          return this.host.fail(id, lostRequestMessage(store.get(id)!), 'restart');
        }
        const cancelled = store.get(id)?.cancelRequested ?? false;
        const s = store.update(id, cancelled ? { jobId, jobState: 'pending' } : { jobId, state: 'queued', jobState: 'pending' });
        store.clearSubmitDoc(id);
        store.recordJobSubmitted(s, jobId);
        observers.notify('submitted', s, jobId);
        this.host.emit(id, 'submitted', doc.adoptOnly ? `Found batch job ${jobId} submitted before the restart; waiting in the queue` : `Submitted batch job ${jobId}; waiting in the queue`);
        this.host.activity();
        log.info({ session: id, jobId, adopted: doc.adoptOnly === true }, 'job submitted');
        if (s.cancelRequested) await this.host.kill(s);
        return;
      } catch (err) {
        const cur = store.get(id)!;
        if (err instanceof HpcWrapRefusal) {
          this.secrets.delete(id);
          const p = config.profiles.find((x) => x.name === cur.profile);
          const msg = err.code === 'maintenance' ? maintenanceMessage(err.message) : schedulerRefusal(err.message, { ...cur, profileName: p?.displayName ?? cur.profile, partition: p?.resources.partition ?? null });
          return this.host.fail(id, msg, err.code);
        }
        if (cur.cancelRequested) return this.host.finishStopped(id);
        const wait = Math.min(15_000, 500 * 2 ** attempt);
        if (Date.now() + wait > deadline) {
          const why = err instanceof SchedulerUnreachableError ? 'the scheduler did not answer' : 'the cluster could not be reached';
          return this.host.fail(id, submitFailedMessage(`${why} for ${config.cluster.submitDeadlineSeconds} s: ${(err as Error).message}`, cur), 'unreachable');
        }
        if (!told) {
          told = true;
          const until = new Date(deadline).toISOString().slice(11, 16);
          this.host.emit(id, 'info', err instanceof SchedulerUnreachableError
            ? `The scheduler is not answering at the moment; retrying until ${until} UTC`
            : `The cluster cannot be reached at the moment; retrying until ${until} UTC`);
        }
        this.tellWaiting(err instanceof SchedulerUnreachableError);
        log.warn({ session: id, attempt, err: (err as Error).message }, 'submit failed, retrying');
        await sleep(wait);
      }
    }
  }

  /** Sessions still waiting for a submit slot learn of the outage now, not when their turn comes (once each). */
  private tellWaiting(schedulerDown: boolean): void {
    const { store, config } = this.host;
    for (const id of this.waiting) {
      if (this.toldUnreachable.has(id)) continue;
      const s = store.get(id);
      if (!s || isTerminal(s.state)) continue;
      this.toldUnreachable.add(id);
      const until = new Date(Date.parse(s.createdAt) + config.cluster.submitDeadlineSeconds * 1000).toISOString().slice(11, 16);
      this.host.emit(id, 'info', `${schedulerDown ? 'The scheduler is not answering' : 'The cluster cannot be reached'} at the moment; your start waits its turn and is retried until ${until} UTC`);
    }
  }
}
