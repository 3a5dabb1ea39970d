// The hub service's express app: security headers with a per-response nonce, the login
// (auth.ts), then one router per page group (pages/*): the students' pages, and the admin
// page under admin/ (behind requireAdmin); everything shares layout.ts and the login.
import { randomBytes } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { AccountingStore } from '../accounting/accounting-store.js';
import type { SessionService } from '../sessions/session-service.js';
import type { SessionStore } from '../store/session-store.js';
import { authRoutes, isServiceAdmin, requireLogin, type AuthDeps } from './auth.js';
import { html } from './html.js';
import type { HubOAuth } from './hub-oauth.js';
import { layout, type PageContext } from './layout.js';
import type { Login, LoginSessions } from './login-sessions.js';
import { adminPages } from './pages/admin-page.js';
import { sessionsPages } from './pages/sessions-page.js';
import { TunnelHealthBoard } from './tunnel-health.js';

export interface HubServiceDeps {
  store: SessionStore;
  service: SessionService;
  oauth: HubOAuth;
  logins: LoginSessions;
  /** JupyterHub's base_url (browser side). */
  baseUrl: string;
  log: Logger;
  /** Usage figures for the admin page (null: not set up). */
  accounting?: AccountingStore | null;
  /** Tunnel reconnect counts for the admin page; by default a board of its own, fed by the session service. */
  tunnels?: TunnelHealthBoard;
  /** Besides JupyterHub admins, who may use the admin page (hubService.adminScope). */
  adminScope?: string | null;
}

export function createHubServiceApp(d: HubServiceDeps): express.Express {
  const prefix = d.oauth.prefix;
  const adminScope = d.adminScope ?? null;
  const tunnels = d.tunnels ?? new TunnelHealthBoard();
  if (!d.tunnels) d.service.observers.add(tunnels);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', 'loopback'); // the hub's proxy says whether the browser used https

  app.use((_req, res, next) => {
    const nonce = randomBytes(16).toString('base64');
    res.locals.nonce = nonce;
    res.set({
      'Content-Security-Policy': `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; img-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'`,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    });
    next();
  });

  const context = (_req: Request, res: Response): PageContext => {
    const user = (res.locals.login as Login | undefined)?.user ?? null;
    return { prefix, baseUrl: d.baseUrl, user, admin: user !== null && isServiceAdmin(user, adminScope), nonce: res.locals.nonce as string };
  };
  const problem = (req: Request, res: Response, status: number, sentence: string) => {
    const body = html`<div class="card problem"><p class="sentence">${sentence}</p></div><p><a href="${prefix}">Your sessions</a></p>`;
    res.status(status).type('html').send(String(layout(context(req, res), 'Problem', body)));
  };

  const auth: AuthDeps = { oauth: d.oauth, logins: d.logins, log: d.log, problem };
  const router = express.Router();
  router.use(express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 }));
  router.use(requireLogin(auth));
  router.use(authRoutes(auth));
  router.use(sessionsPages({ store: d.store, service: d.service, context, problem }));
  router.use('/admin', adminPages({ store: d.store, service: d.service, accounting: d.accounting ?? null, tunnels, adminScope, context, problem }));
  // express matches "/x" and "/x/" alike: only the path without the slash is redirected
  app.use((req, res, next) => (req.path === prefix.slice(0, -1) ? res.redirect(301, prefix) : next()));
  app.use(prefix, router);

  app.use((req: Request, res: Response) => problem(req, res, 404, 'There is no such page here.'));
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { status?: number; type?: string; message?: string };
    if (e.type === 'entity.too.large' || e.type === 'parameters.too.many') return problem(req, res, 413, 'That form was too large.');
    d.log.error({ err: e.message }, 'hub service page failed');
    problem(req, res, 500, 'This page failed to load because of a problem on our side. Try again in a minute; if it persists, tell support.');
  });
  return app;
}
