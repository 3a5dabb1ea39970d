// The /v1 HTTP API (described in openapi.yaml). Thin: validation and lifecycle live in
// SessionService; reads come from the store, never from the scheduler.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { isSessionId } from '../../contract/names.js';
import { RequestError, type CreateSessionInput, type SessionService } from '../sessions/session-service.js';
import { SESSION_STATES, sessionView, TERMINAL_EVENTS, type SessionEvent, type SessionState } from '../sessions/types.js';
import type { SessionStore } from '../store/session-store.js';
import { decodeCursor, PageError, pageLimit } from '../store/pages.js';
import type { ProfileAvailability } from '../sessions/profile-availability.js';
import { MAX_WAIT_SECONDS, waitWhileState } from '../sessions/state-wait.js';
import { VERSION } from '../version.js';
import { tokenMatches } from './token-file.js';
import { batchspawnerRoutes } from './batchspawner-routes.js';
import type { AccountingStore } from '../accounting/accounting-store.js';
import { usageRoutes } from '../accounting/usage-routes.js';
import { metricsHandler, requestTimer, type MetricsEndpoint } from '../metrics/metrics-http.js';

export interface AppDeps {
  service: SessionService;
  store: SessionStore;
  token: string;
  maxBodyBytes: number;
  log: Logger;
  heartbeatMs?: number;
  /** GET /metrics and request timing (hub-bridge/metrics); absent = /metrics answers 404. */
  metrics?: MetricsEndpoint | null;
  /** GET /v1/usage (hub-bridge/accounting). */
  accounting?: AccountingStore;
  /** Marks profiles that cannot run (partition check); absent = every profile is offered. */
  availability?: ProfileAvailability;
}

function sendError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

function sessionIdParam(req: Request): string {
  const id = req.params.id;
  if (!isSessionId(id)) throw new RequestError(404, 'not_found', `no session ${JSON.stringify(String(id).slice(0, 64))}`);
  return id;
}

function afterParam(req: Request): number {
  const raw = req.query.after ?? req.get('Last-Event-ID');
  if (raw === undefined) return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new RequestError(400, 'bad_request', 'after must be a non-negative integer (an event seq)');
  return n;
}

/** `waitWhile=STATE[&waitSeconds=N]` on GET /v1/sessions/:id: answer once the session has left STATE (at most N s, default 20). */
function waitParams(req: Request): { state: SessionState; seconds: number } | null {
  const state = req.query.waitWhile;
  if (state === undefined) return null;
  if (typeof state !== 'string' || !(SESSION_STATES as readonly string[]).includes(state)) {
    throw new RequestError(400, 'bad_request', `waitWhile must be one session state (${SESSION_STATES.join(', ')})`);
  }
  const raw = req.query.waitSeconds ?? '20';
  const seconds = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(seconds) || seconds < 1 || seconds > MAX_WAIT_SECONDS) {
    throw new RequestError(400, 'bad_request', `waitSeconds must be a whole number of seconds from 1 to ${MAX_WAIT_SECONDS}`);
  }
  return { state: state as SessionState, seconds };
}

function listQuery(req: Request, cursorParts: number): { user: string | undefined; limit: number; after: string[] | null } {
  const one = (name: string): string | undefined => {
    const v = req.query[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new RequestError(400, 'bad_request', `${name} must be given once`);
    return v;
  };
  try {
    const cursor = one('cursor');
    return { user: one('user'), limit: pageLimit(one('limit')), after: cursor === undefined || cursor === '' ? null : decodeCursor(cursor, cursorParts) };
  } catch (err) {
    if (err instanceof PageError) throw new RequestError(400, 'bad_request', err.message);
    throw err;
  }
}

/** `state=queued` or `state=queued,starting` (comma-separated, or the parameter repeated). */
function stateFilter(raw: unknown): SessionState[] | undefined {
  if (raw === undefined) return undefined;
  const words = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => (typeof v === 'string' ? v.split(',') : [String(v)]));
  for (const w of words) {
    if (!SESSION_STATES.includes(w as SessionState)) throw new RequestError(400, 'bad_request', `state must be one or more of ${SESSION_STATES.join(', ')} (comma-separated)`);
  }
  return words as SessionState[];
}

export function createApp(deps: AppDeps): express.Express {
  const { service, store, log } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (deps.metrics) app.use(requestTimer(deps.metrics.metrics));

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true, version: VERSION });
  });

  app.get('/metrics', metricsHandler(deps.metrics ?? null));

  app.use('/v1', (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const m = /^Bearer (.+)$/i.exec(header);
    if (!m || !tokenMatches(m[1]!.trim(), deps.token)) {
      res.set('WWW-Authenticate', 'Bearer');
      return sendError(res, 401, 'unauthorized', m ? 'the bearer token is wrong' : 'missing "Authorization: Bearer <token>" header (the token is in the file named by apiTokenFile)');
    }
    next();
  });
  app.use('/v1', express.json({ limit: deps.maxBodyBytes, strict: true }));

  app.get('/v1/profiles', async (_req, res) => {
    const marks = deps.availability ? await deps.availability.check() : null;
    res.json({
      profiles: service.profiles().map((p) => {
        const a = marks?.get(p.name);
        return { ...p, available: a?.available ?? true, unavailableReason: a?.reason ?? null };
      }),
    });
  });

  app.post('/v1/sessions', async (req, res) => {
    const key = req.get('Idempotency-Key') ?? null;
    if (key !== null && (key.length < 1 || key.length > 200 || !/^[\x21-\x7e]+$/.test(key))) {
      throw new RequestError(400, 'bad_request', 'Idempotency-Key must be 1-200 printable ASCII characters');
    }
    const body: unknown = req.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new RequestError(400, 'bad_request', 'the body must be a JSON object');
    // A replay (known key) returns its session as it is; only new starts are checked.
    const replay = key !== null && store.findIdempotent(key) !== undefined;
    const refused = replay ? null : deps.availability?.refusal((body as CreateSessionInput).profile);
    if (refused) throw new RequestError(400, 'profile_unavailable', refused);
    const [session, created] = await service.create(body as CreateSessionInput, key);
    res.status(created ? 201 : 200).json(sessionView(session));
  });

  // Lists page (docs/contracts.md §1 "Lists"): newest first, `limit` (default 100, at most
  // 1000), `cursor` = the previous page's `next`; `next` is null on the last page.
  app.get('/v1/sessions', (req, res) => {
    const q = listQuery(req, 2);
    const states = stateFilter(req.query.state);
    const page = store.page({ user: q.user, states, limit: q.limit, after: q.after });
    res.json({ sessions: page.items.map(sessionView), next: page.next });
  });

  app.get('/v1/jobs', (req, res) => {
    const q = listQuery(req, 3);
    const page = store.jobsPage({ user: q.user, limit: q.limit, after: q.after });
    res.json({ jobs: page.items, next: page.next });
  });

  app.get('/v1/sessions/:id', async (req, res) => {
    const id = sessionIdParam(req);
    let s = store.get(id);
    if (!s) throw new RequestError(404, 'not_found', `no session ${req.params.id}`);
    const wait = waitParams(req);
    if (wait && s.state === wait.state) {
      const gone = new AbortController();
      res.once('close', () => gone.abort());
      s = (await waitWhileState(service.events, store, id, wait.state, wait.seconds * 1000, gone.signal)) ?? s;
    }
    res.json(sessionView(s));
  });

  app.delete('/v1/sessions/:id', (req, res) => {
    const s = service.stop(sessionIdParam(req));
    res.status(202).json(sessionView(s));
  });

  app.get('/v1/sessions/:id/events', (req, res) => {
    const id = sessionIdParam(req);
    if (!store.get(id)) throw new RequestError(404, 'not_found', `no session ${id}`);
    const after = afterParam(req);
    if (!(req.get('accept') ?? '').includes('text/event-stream')) {
      res.json({ events: store.events(id, after) });
      return;
    }
    streamEvents(req, res, id, after, deps);
  });

  app.use(batchspawnerRoutes(store, service));
  app.use(usageRoutes(deps.accounting));

  app.use((_req: Request, res: Response) => sendError(res, 404, 'not_found', 'no such endpoint; see openapi.yaml'));

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof RequestError) return sendError(res, err.status, err.code, err.message);
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.too.large') return sendError(res, 413, 'payload_too_large', `the body is larger than ${deps.maxBodyBytes} bytes`);
    if (e.type === 'entity.parse.failed') return sendError(res, 400, 'bad_request', 'the body is not valid JSON');
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return sendError(res, e.status, 'bad_request', e.message ?? 'bad request');
    log.error({ err: e.message }, 'request failed');
    sendError(res, 500, 'internal', 'internal error; see the bridge log');
  });
  return app;
}

function streamEvents(req: Request, res: Response, id: string, after: number, deps: AppDeps): void {
  res.status(200).set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  res.flushHeaders();
  let last = after;
  let done = false;
  const send = (ev: SessionEvent) => {
    if (done || ev.seq <= last) return;
    last = ev.seq;
    res.write(`id: ${ev.seq}\nevent: ${ev.kind}\ndata: ${JSON.stringify(ev)}\n\n`);
    if (TERMINAL_EVENTS.includes(ev.kind)) finish();
  };
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), deps.heartbeatMs ?? 15_000);
  const finish = () => {
    if (done) return;
    done = true;
    clearInterval(heartbeat);
    deps.service.events.off(id, send);
    res.end();
  };
  deps.service.events.on(id, send);
  req.on('close', finish);
  for (const ev of deps.store.events(id, after)) send(ev);
  const s = deps.store.get(id);
  if (s && (s.state === 'stopped' || s.state === 'failed')) finish();
}
