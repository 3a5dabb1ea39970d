// The core: session lifecycle. Persists every transition, then acts; hands submits to the
// submitter (submitter.ts: slots, retries, idempotent per session id), applies the poller's
// status reports, stops jobs.
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { HubBridgeConfig, Profile } from '../../config/schema.js';
import type { HpcWrapClient, JobStatus } from '../cluster/hpc-wrap-client.js';
import type { SessionStore } from '../store/session-store.js';
import { tunnelDocument } from '../tunnel/tunnel-registry.js';
import type { Tunnels } from '../tunnel/tunnels.js';
import { refusalByCapabilities } from '../../contract/capabilities.js';
import type { CapabilitiesCache } from '../cluster/capabilities-cache.js';
import { checkAgainstContract, InvalidRequest, parseCreateBody, type SubmitPlan } from './create-request.js';
import { failureMessage, queuedMessage, readyMessage, runningMessage, stoppedMessage, stoppingMessage, timeLimitSeconds, type StoppedBy } from './progress-messages.js';
import { probeServer } from './readiness-probe.js';
import { hostForNode, serverUrl, type JobsRun } from './server-address.js';
import type { SubmitQueue } from './submit-queue.js';
import { Submitter } from './submitter.js';
import { Observers, type SessionObserver } from './lifecycle-observer.js';
import { endsAt, isTerminal, type EventKind, type Session, type SessionEvent } from './types.js';

/** A stopping session whose job is still listed gets its cancel again after this long (or at once after a failed one). */
const KILL_REPEAT_MS = 10_000;

export class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type { CreateSessionInput } from './create-request.js';

const PROGRESS: Record<EventKind, number> = {
  requested: 0, submitted: 10, queued: 20, running: 50, starting: 70, ready: 100,
  failed: 100, stopping: 90, stopped: 100, unknown: 30, info: 40,
};

function newSessionId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = randomBytes(26);
  return 's-' + Array.from(bytes, (b) => alphabet[b & 31]).join('');
}

export class SessionService {
  readonly events = new EventEmitter();
  /** Metrics and accounting watch the lifecycle here (lifecycle-observer.ts). */
  readonly observers: Observers<SessionObserver>;
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Submit slots, secrets until startjob has them, retries (submitter.ts). */
  private readonly submitter: Submitter;
  private closed = false;

  constructor(
    private readonly store: SessionStore,
    private readonly cluster: HpcWrapClient,
    private readonly config: HubBridgeConfig,
    private readonly log: Logger,
    private readonly tunnels: Tunnels | null = null,
    private readonly capabilities: CapabilitiesCache | null = null,
  ) {
    this.events.setMaxListeners(0);
    this.observers = new Observers(log);
    this.submitter = new Submitter({
      store, cluster, config, log, observers: this.observers,
      activity: () => this.events.emit('activity'),
      isClosed: () => this.closed,
      emit: (id, kind, message) => this.emit(id, kind, message),
      fail: (id, message, reason) => this.fail(id, message, reason),
      finishStopped: (id, opts) => this.finishStopped(id, opts),
      kill: (s) => this.kill(s),
    });
  }

  /** The submit slots (cluster.submitConcurrency at once): how many wait, the most ever at once. */
  get submits(): SubmitQueue {
    return this.submitter.queue;
  }

  private readonly noticeShown = new Map<string, string>();
  /** When each stopping session's cancel last went out: a poll repeats it only after KILL_REPEAT_MS (or after it failed). */
  private readonly killedAt = new Map<string, number>();

  profiles(): Profile[] {
    return this.config.profiles;
  }

  private profile(name: unknown): Profile {
    const wanted = name === undefined || name === null || name === '' ? (this.config.defaultProfile ?? this.config.profiles[0]!.name) : name;
    const p = this.config.profiles.find((x) => x.name === wanted);
    if (!p) {
      throw new RequestError(400, 'bad_request', `unknown profile ${JSON.stringify(String(wanted).slice(0, 64))}; available: ${this.config.profiles.map((x) => x.name).join(', ')}`);
    }
    return p;
  }

  /** Validates, persists and starts submitting. Returns [session, created]. */
  async create(body: unknown, idempotencyKey: string | null): Promise<[Session, boolean]> {
    const id = newSessionId();
    let checked;
    let profile: Profile;
    try {
      const input = parseCreateBody(body);
      profile = this.profile(input.profile);
      checked = checkAgainstContract(input, profile, id);
      const caps = this.capabilities?.current();
      const why = caps ? refusalByCapabilities(caps, { webdav: checked.webdav, environment: profile.environment }) : null;
      if (why) throw new InvalidRequest(why);
    } catch (err) {
      if (err instanceof InvalidRequest) throw new RequestError(400, 'bad_request', err.message);
      throw err;
    }
    const { user, serverName, env, command, script, webdav } = checked;

    const fingerprint = createHash('sha256').update(JSON.stringify([user, serverName, profile.name])).digest('hex');
    const early = this.existing(idempotencyKey, fingerprint, user, serverName);
    if (early) return [early, false];

    const grant = this.tunnels ? await this.tunnels.grant(profile.resources) : null;
    const tunnel = grant && tunnelDocument(grant);
    // What is stored: everything but the secrets (those stay in memory until the submit).
    const plan: SubmitPlan = {
      version: 1,
      sessionId: id,
      user,
      serverName,
      command,
      resources: script === null ? profile.resources : null,
      script,
      environment: profile.environment,
      tunnel: tunnel && (({ privateKey: _k, ...spec }) => spec)(tunnel),
    };
    const servicePrefix = env.JUPYTERHUB_SERVICE_PREFIX ?? '/';
    let session: Session;
    let activated = false;
    try {
      // Checked again after the await: a concurrent request may have created it meanwhile.
      const raced = this.existing(idempotencyKey, fingerprint, user, serverName);
      if (raced) return [raced, false];
      session = this.store.create(
        { id, user, serverName, profile: profile.name, servicePrefix, submitDoc: JSON.stringify(plan) },
        idempotencyKey !== null ? { key: idempotencyKey, fingerprint } : null,
      );
      this.submitter.hold(id, { env, webdav, tunnelPrivateKey: tunnel?.privateKey ?? null });
      const timeLimit = script === null ? timeLimitSeconds(profile.resources.walltime) : null;
      session = this.store.update(id, {
        timeLimitSeconds: timeLimit,
        ...(grant ? { tunnelPort: grant.remotePort, tunnelPublicKey: grant.publicKey, tunnelExpiresAt: grant.expiresAt, tunnelState: 'waiting' as const, tunnelSince: new Date().toISOString() } : {}),
      });
      if (grant) {
        this.tunnels!.activate(id, grant);
        activated = true;
      }
    } finally {
      // P is bound from the grant on: give it back if no session took it
      if (grant && !activated) this.tunnels!.abandon(grant);
    }
    this.emit(id, 'requested', `Requested a "${profile.displayName}" notebook server`);
    this.log.info({ session: id, user, serverName, profile: profile.name }, 'session created');
    this.observers.notify('created', session);
    this.track(id, this.submitter.enqueue(id));
    return [session, true];
  }

  /** The session an earlier request with this key created; throws 409 on a conflict. */
  private existing(idempotencyKey: string | null, fingerprint: string, user: string, serverName: string): Session | undefined {
    if (idempotencyKey !== null) {
      const seen = this.store.findIdempotent(idempotencyKey);
      if (seen) {
        if (seen.fingerprint !== fingerprint) {
          throw new RequestError(409, 'conflict', 'this Idempotency-Key was already used for a different user, server or profile');
        }
        return this.store.get(seen.sessionId)!;
      }
    }
    const active = this.store.list({ user }).find((s) => s.serverName === serverName && !isTerminal(s.state) && s.state !== 'stopping');
    if (active) {
      throw new RequestError(409, 'conflict', `user ${user} already has a live session for server "${serverName}" (${active.id}, ${active.state}); stop it first`);
    }
    return undefined;
  }

  private track(id: string, p: Promise<void>): void {
    const wrapped = p.catch((err) => this.log.error({ session: id, err: (err as Error).message }, 'session task failed')).finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, wrapped);
  }

  get(id: string): Session | undefined {
    return this.store.get(id);
  }

  emit(sessionId: string, kind: EventKind, message: string): SessionEvent {
    const ev = this.store.addEvent(sessionId, kind, message, PROGRESS[kind]);
    this.events.emit(sessionId, ev);
    return ev;
  }

  /** The session ended (or is being stopped): tunnel key revoked, its connections cut, its port released. */
  private ended(id: string, { cleanRunDir = true } = {}): void {
    this.submitter.forget(id);
    this.killedAt.delete(id);
    // The spool may still hold the job's secrets (start-env never ran, or the submit was
    // interrupted): remove it, as the user, in the background.
    const s = this.store.get(id);
    if (s && cleanRunDir && !this.closed) {
      this.track(`${id}:clean`, this.cluster.killJob({ jobId: null, sessionId: id, user: s.user }).catch((err) => {
        this.log.warn({ session: id, err: (err as Error).message }, 'could not clean up the run dir');
      }));
    }
    this.noticeShown.delete(id);
    this.tunnels?.end(id);
  }

  private fail(id: string, message: string, reason: string | null = null, status: JobStatus | null = null): void {
    const refused = reason === 'invalid' || reason === 'maintenance' || reason === 'scheduler';
    this.observers.notify('failed', this.store.update(id, { state: 'failed', message, reason }), { reason, status });
    this.store.clearSubmitDoc(id);
    this.ended(id, { cleanRunDir: !refused }); // a refused startjob removed its spool itself
    this.emit(id, 'failed', message);
    this.log.warn({ session: id, reason }, 'session failed');
  }

  /** The stop is complete: the job has ended (or was never submitted). `cleanRunDir`: false when killjob already removed the spool. */
  private finishStopped(id: string, { cleanRunDir = true } = {}): void {
    const s = this.store.get(id)!;
    const wasStarting = !this.store.events(id).some((e) => e.kind === 'ready');
    const message = stoppedMessage(s, s.stoppedBy ?? 'hub', wasStarting);
    this.observers.notify('stopped', this.store.update(id, { state: 'stopped', message }));
    this.store.clearSubmitDoc(id);
    this.ended(id, { cleanRunDir });
    this.emit(id, 'stopped', message);
  }

  /** `by`: who asked (the hub, the student or an admin on the hub service's pages); it shapes the final message. `actor`: the admin's name, for the event. */
  stop(id: string, by: StoppedBy = 'hub', actor: string | null = null): Session {
    const s = this.store.get(id);
    if (!s) throw new RequestError(404, 'not_found', `no session ${id}`);
    if (isTerminal(s.state)) return s;
    if (s.state !== 'stopping') {
      this.store.update(id, { state: 'stopping', cancelRequested: true, stoppedBy: by });
      this.tunnels?.end(id); // nothing is routed to a server being stopped
      this.emit(id, 'stopping', stoppingMessage(by, s.state !== 'ready', actor));
      this.events.emit('activity');
      if (by !== 'hub') this.log.info({ session: id, by, actor }, 'stop requested');
    }
    const cur = this.store.get(id)!;
    if (cur.jobId) this.track(id, this.kill(cur));
    return this.store.get(id)!;
  }

  private async kill(s: Session): Promise<void> {
    if (!s.jobId) return;
    this.killedAt.set(s.id, Date.now());
    try {
      await this.cluster.killJob({ jobId: s.jobId, sessionId: s.id, user: s.user });
      this.log.info({ session: s.id, jobId: s.jobId }, 'job cancelled');
    } catch (err) {
      // The poller retries the cancel while the job is still listed.
      this.killedAt.delete(s.id);
      this.log.warn({ session: s.id, err: (err as Error).message }, 'cancel failed; will retry');
    }
  }

  /** Ends a session the bridge must not serve (its tunnel port was taken while it was down): failed, job cancelled. */
  async abort(id: string, message: string, reason: string): Promise<void> {
    const s = this.store.get(id);
    if (!s || isTerminal(s.state)) return;
    this.fail(id, message, reason);
    if (s.jobId) {
      this.store.recordJobEnded(s.jobId, id, 'cancelled', null);
      await this.kill(s);
    }
  }

  /** Resume what a crash interrupted: unsubmitted sessions are submitted again (idempotent), stops re-issued. */
  recover(): void {
    for (const s of this.store.live()) {
      if (s.state === 'submitting' && !this.inFlight.has(s.id)) {
        this.log.info({ session: s.id }, 'resuming submit after restart');
        this.track(s.id, this.submitter.enqueue(s.id));
      } else if (s.state === 'stopping' && s.jobId) {
        this.track(s.id, this.kill(s));
      }
    }
  }

  /** The scheduler could not be asked: keep every session as it is, say so once. */
  markUnreachable(sessions: Session[], why: string): void {
    for (const s of sessions) {
      if (s.schedulerReachable) {
        this.store.update(s.id, { schedulerReachable: false, jobState: 'unknown' });
        this.emit(s.id, 'unknown', 'The scheduler cannot be reached right now; your session is kept and checked again shortly.');
        this.log.warn({ session: s.id, why }, 'scheduler unreachable');
      }
    }
  }

  /** Applies one job's status from the poller (and probes a starting server). */
  async apply(s: Session, st: JobStatus, jobsRun: JobsRun | null = null): Promise<void> {
    if (st.state === 'unknown') return this.markUnreachable([s], 'job state unknown');
    const base = { schedulerReachable: true, jobState: st.state, node: st.node ?? s.node, reason: st.reason ?? null };
    if (!s.schedulerReachable) this.emit(s.id, 'info', 'The scheduler answers again.');

    if (st.state === 'done' || st.state === 'failed' || st.state === 'cancelled') {
      this.store.recordJobEnded(s.jobId!, s.id, st.state, st.exitCode ?? null);
      if (s.state === 'stopping') return this.finishStopped(s.id, { cleanRunDir: false });
      const starting = s.state !== 'ready';
      const msg = failureMessage(st, starting, s);
      this.store.update(s.id, { ...base, message: msg });
      if (starting) return this.fail(s.id, msg, st.reason ?? st.state, st);
      this.observers.notify('stopped', this.store.update(s.id, { state: 'stopped' }));
      this.ended(s.id, { cleanRunDir: false }); // it ran: start-env consumed the spool
      this.emit(s.id, 'stopped', msg);
      return;
    }
    if (s.state === 'stopping') {
      this.store.update(s.id, base);
      // still listed: ending (SIGTERM sent, Slurm's COMPLETING), or the cancel was lost.
      // Repeated only now and then, not at every poll while the job winds down.
      if (Date.now() - (this.killedAt.get(s.id) ?? 0) >= KILL_REPEAT_MS) await this.kill(s);
      return;
    }
    if (st.state === 'pending') {
      const msg = queuedMessage(st);
      const changed = s.state !== 'queued' || s.queuePosition !== (st.position ?? null) || s.estimatedStart !== (st.estimatedStart ?? null) || s.reason !== (st.reason ?? null);
      this.store.update(s.id, { ...base, state: 'queued', queuePosition: st.position ?? null, estimatedStart: st.estimatedStart ?? null, message: msg });
      if (changed) this.emit(s.id, 'queued', msg);
      return;
    }
    // running or completing
    // Where the hub reaches the server: fixed once known, from the first RUNNING to the end (server-address.ts).
    const host = s.host ?? (s.tunnelPort !== null ? '127.0.0.1' : hostForNode(st.node ?? s.node, this.config.cluster.nodeAddress, jobsRun));
    if (s.state === 'queued' || s.state === 'submitting') {
      s = this.store.update(s.id, { ...base, host, state: 'starting', queuePosition: null, estimatedStart: null, startedAt: new Date().toISOString(), message: `Running on ${st.node ?? 'a compute node'}` });
      this.emit(s.id, 'running', runningMessage(s.jobId, st.node ?? null));
      this.store.recordJobStarted(s.jobId!, s.id, st.node ?? null);
      this.observers.notify('running', s);
      if (s.tunnelPort !== null && this.tunnels) s = this.store.update(s.id, { tunnelExpiresAt: this.tunnels.jobStarted(s.id, this.walltimeOf(s)) });
    } else {
      s = this.store.update(s.id, { ...base, host });
    }
    const srv = st.server;
    this.announceNotice(s, srv ?? null);
    // Through the tunnel the hub reaches the server at its own 127.0.0.1:P; without one, at
    // the node's address and the port start-env reported (never start-env's bind address).
    const port = s.tunnelPort ?? srv?.port ?? null;
    const addr = s.host && port ? { host: s.host, port } : null;
    // Through a tunnel: once THIS job's agent is logged in with its key and carries P (the bridge
    // holds P, so the probe of 127.0.0.1:P reaches nothing else); without one, once start-env reports a port.
    // And only once start-env says `listening`: it writes that after the steps' work at that
    // moment (the port report to stock batchspawner), so a server whose report fails, and is
    // stopped for it, never shows as ready. (A status not read at all: the tunnel alone.)
    const listening = srv ? srv.phase === 'listening' : s.tunnelPort !== null;
    const canProbe = listening && (s.tunnelPort !== null ? (this.tunnels?.isUp(s.id) ?? false) : !!srv?.port);
    if (s.state === 'starting' && addr && canProbe) {
      if (s.port !== addr.port) {
        s = this.store.update(s.id, { port: addr.port, message: 'Starting Jupyter' });
        this.emit(s.id, 'starting', `Starting Jupyter on ${s.node ?? 'the node'}`);
      }
      const url = `${serverUrl(addr.host, addr.port, s.servicePrefix.endsWith('/') ? s.servicePrefix : s.servicePrefix + '/')}api`;
      if (await probeServer(url, this.config.status.probeTimeoutSeconds * 1000)) {
        const ready = this.store.update(s.id, { state: 'ready', message: 'Ready' });
        this.observers.notify('ready', ready);
        this.emit(s.id, 'ready', readyMessage(s.node ?? addr.host, endsAt(ready), ready.timeLimitSeconds));
        this.log.info({ session: s.id, node: s.node }, 'session ready');
      }
    }
  }

  /** A notice start-env put in status.json while the server starts or runs (e.g. a recreated overlay), once. */
  private announceNotice(s: Session, srv: { phase: string; message?: string | null } | null): void {
    const msg = srv && srv.phase !== 'exited' ? srv.message : null;
    if (!msg || this.noticeShown.get(s.id) === msg) return;
    this.noticeShown.set(s.id, msg);
    this.emit(s.id, 'info', msg);
  }

  private walltimeOf(s: Session): string {
    return this.config.profiles.find((p) => p.name === s.profile)?.resources.walltime ?? '01:00:00';
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight.values()]);
  }
}
