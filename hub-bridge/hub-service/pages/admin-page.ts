// The admin page (GET <prefix>admin/): every live session, recent failures, usage of a
// period; and stopping a session: GET …/sessions/:id/stop asks, POST …/stop (with the
// login's CSRF token) stops it through the same path as a stop from the hub
// (SessionService.stop), recorded as stopped by an admin and naming who. Only JupyterHub
// admins and holders of hubService.adminScope get here (requireAdmin); others get 403.
import express, { type Request, type Response, type Router } from 'express';
import { isSessionId } from '../../../contract/names.js';
import type { AccountingStore } from '../../accounting/accounting-store.js';
import { usageReport } from '../../accounting/usage.js';
import type { SessionService } from '../../sessions/session-service.js';
import { isTerminal, type Session } from '../../sessions/types.js';
import type { SessionStore } from '../../store/session-store.js';
import { checkCsrf, loginOf, requireAdmin } from '../auth.js';
import { layout, type PageContext } from '../layout.js';
import type { TunnelHealthBoard } from '../tunnel-health.js';
import { adminBody, confirmStopBody } from './admin-html.js';
import { adminView, liveRow, usageForm } from './admin-view.js';

export interface AdminPageDeps {
  store: SessionStore;
  service: SessionService;
  /** The usage figures (null: not set up; the page says so). */
  accounting: AccountingStore | null;
  tunnels: TunnelHealthBoard;
  adminScope: string | null;
  context(req: Request, res: Response): PageContext;
  problem(req: Request, res: Response, status: number, sentence: string): void;
}

const RECENT_FAILURES = 20;
/** What the header names on these pages (its "Admin" link is there already). */
const ADMIN_SECTION = 'Every session on the cluster';
/** While a stop is under way the page reloads itself, so the session is seen to go. */
const STOPPING_REFRESH_SECONDS = 3;

/** What the page says after a stop, from the session's state now. */
function stopNotice(s: Session | undefined): string | null {
  if (!s) return null;
  const who = `Session ${s.number} of ${s.user}${s.jobId ? ` (job ${s.jobId})` : ''}`;
  if (isTerminal(s.state)) return `${who} has ended${s.stoppedBy === 'admin' ? ': stopped on this page' : ''}.`;
  return `Stop requested: ${who} is being stopped. It leaves the list once the scheduler reports the job ended; this page reloads by itself.`;
}

export function adminPages(d: AdminPageDeps): Router {
  const r = express.Router();
  r.use(requireAdmin(d));

  const live = (req: Request, res: Response): Session | null => {
    const id = req.params.id;
    const s = isSessionId(id) ? d.store.get(id) : undefined;
    if (!s) {
      d.problem(req, res, 404, 'There is no such session. Go back to the admin page and pick one from the list.');
      return null;
    }
    if (isTerminal(s.state) || s.state === 'stopping') {
      res.redirect(303, `${d.context(req, res).prefix}admin/?stopped=${s.id}`);
      return null;
    }
    return s;
  };

  r.get('/', (req, res) => {
    const ctx = d.context(req, res);
    const now = new Date();
    const usage = usageForm(req.query, now);
    const report = usage.query && d.accounting ? usageReport(usage.query, d.accounting.rows(usage.query.from, usage.query.to)) : null;
    const view = adminView({
      live: d.store.live(),
      failed: d.store.list({ state: 'failed', limit: RECENT_FAILURES }),
      profiles: d.service.profiles(),
      reconnects: (id) => d.tunnels.reconnects(id),
      usage,
      report,
      reportMissing: 'Usage accounting is not set up in this bridge.',
      now,
    });
    const stopped = typeof req.query.stopped === 'string' && isSessionId(req.query.stopped) ? d.store.get(req.query.stopped) : undefined;
    const refresh = view.live.some((x) => x.state === 'stopping') ? STOPPING_REFRESH_SECONDS : undefined;
    const page = layout(ctx, 'Admin: notebook sessions', adminBody(ctx.prefix, view, stopNotice(stopped)), { section: ADMIN_SECTION, wide: true, refreshSeconds: refresh });
    res.status(usage.error ? 400 : 200).type('html').send(String(page));
  });

  r.get('/sessions/:id/stop', (req, res) => {
    const s = live(req, res);
    if (!s) return;
    const ctx = d.context(req, res);
    const row = liveRow(s, d.service.profiles(), d.tunnels.reconnects(s.id), Date.now());
    res.type('html').send(String(layout(ctx, `Stop session ${s.number}?`, confirmStopBody(ctx.prefix, row, loginOf(res).csrf), { section: ADMIN_SECTION })));
  });

  r.post('/sessions/:id/stop', checkCsrf(d), (req, res) => {
    const s = live(req, res);
    if (!s) return;
    d.service.stop(s.id, 'admin', loginOf(res).user.name);
    res.redirect(303, `${d.context(req, res).prefix}admin/?stopped=${s.id}`);
  });
  return r;
}
