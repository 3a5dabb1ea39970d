// The student's pages: their sessions (GET <prefix>), one session (GET <prefix>sessions/:id,
// the link on the hub's progress page) and cancelling a start (POST …/cancel) through the
// same path as a stop from the hub. A student sees and cancels only their OWN sessions:
// anybody else's answers 404, as if it did not exist.
import express, { type Request, type Response, type Router } from 'express';
import { isSessionId } from '../../../contract/names.js';
import type { SessionService } from '../../sessions/session-service.js';
import { isTerminal, type Session } from '../../sessions/types.js';
import type { SessionStore } from '../../store/session-store.js';
import { checkCsrf, loginOf } from '../auth.js';
import { html } from '../html.js';
import { layout, timeTag, type PageContext } from '../layout.js';
import { CANCELLABLE, choiceName, eventLog, stateLine } from './session-view.js';

export interface SessionsPageDeps {
  store: SessionStore;
  service: SessionService;
  context(req: Request, res: Response): PageContext;
  problem(req: Request, res: Response, status: number, sentence: string): void;
}

const LIVE_REFRESH_SECONDS = 5;

function own(d: SessionsPageDeps, req: Request, res: Response): Session | null {
  const id = req.params.id;
  const s = isSessionId(id) ? d.store.get(id) : undefined;
  if (!s || s.user !== loginOf(res).user.name) {
    d.problem(req, res, 404, 'There is no such session of yours. Your sessions are listed on the first page of this service.');
    return null;
  }
  return s;
}

export function sessionsPages(d: SessionsPageDeps): Router {
  const r = express.Router();

  r.get('/', (req, res) => {
    const ctx = d.context(req, res);
    const mine = d.store.list({ user: loginOf(res).user.name, limit: 30 });
    const live = mine.some((s) => !isTerminal(s.state) && s.state !== 'ready');
    const rows = mine.map(
      (s) => html`<tr><td><a href="${ctx.prefix}sessions/${s.id}">Session ${s.number}</a></td><td>${choiceName(s, d.service.profiles())}</td><td>${timeTag(s.createdAt, 'datetime')}</td><td>${stateLine(s)}</td></tr>`,
    );
    const body = html`<h1>Your notebook sessions</h1>
${mine.length ? html`<table><tr><th>Session</th><th>Choice</th><th>Asked for</th><th>State</th></tr>${rows}</table>` : html`<p>You have not started a notebook server on the cluster yet.</p>`}`;
    res.type('html').send(String(layout(ctx, 'Your notebook sessions', body, { refreshSeconds: live ? LIVE_REFRESH_SECONDS : undefined })));
  });

  r.get('/sessions/:id', (req, res) => {
    const s = own(d, req, res);
    if (!s) return;
    const ctx = d.context(req, res);
    const csrf = loginOf(res).csrf;
    const cancelled = req.query.done === 'cancel';
    const actions = CANCELLABLE.has(s.state)
      ? html`<form method="post" action="${ctx.prefix}sessions/${s.id}/cancel"><input type="hidden" name="_csrf" value="${csrf}">
<button type="submit">Cancel this start</button> <span class="muted">Cancelling withdraws ${s.jobId ? `job ${s.jobId} from the queue` : 'the request'}; nothing of yours is lost.</span></form>`
      : html``;
    const body = html`<h1>Session ${s.number}: ${choiceName(s, d.service.profiles())}</h1>
${cancelled && !isTerminal(s.state) ? html`<div class="card notice"><p>Cancel requested: the job is being withdrawn. This page updates by itself.</p></div>` : ''}
<div class="card${s.state === 'failed' ? ' problem' : ''}">${stateLine(s)}${actions}</div>
<p class="muted">Reference for support: ${s.jobId ? `job ${s.jobId}, ` : ''}session ${s.number}.</p>
${eventLog(d.store.events(s.id))}
<p><a href="${ctx.prefix}">All your sessions</a></p>`;
    const refresh = !isTerminal(s.state) && s.state !== 'ready' ? LIVE_REFRESH_SECONDS : undefined;
    res.type('html').send(String(layout(ctx, `Session ${s.number}`, body, { refreshSeconds: refresh })));
  });

  r.post('/sessions/:id/cancel', checkCsrf(d), (req, res) => {
    const s = own(d, req, res);
    if (!s) return;
    if (CANCELLABLE.has(s.state)) d.service.stop(s.id, 'user');
    res.redirect(303, `${d.context(req, res).prefix}sessions/${s.id}?done=cancel`);
  });
  return r;
}
