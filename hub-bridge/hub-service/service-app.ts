// The hub service's express app: security headers with a per-response nonce, the login
// (auth.ts), then one router per page group (pages/*). An admin page joins as another
// router behind requireAdmin; everything shares layout.ts and the login.
import { randomBytes } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { SessionService } from '../sessions/session-service.js';
import type { SessionStore } from '../store/session-store.js';
import { authRoutes, requireLogin, type AuthDeps } from './auth.js';
import { html } from './html.js';
import type { HubOAuth } from './hub-oauth.js';
import { layout, type PageContext } from './layout.js';
import type { Login, LoginSessions } from './login-sessions.js';
import { sessionsPages } from './pages/sessions-page.js';

export interface HubServiceDeps {
  store: SessionStore;
  service: SessionService;
  oauth: HubOAuth;
  logins: LoginSessions;
  /** JupyterHub's base_url (browser side). */
  baseUrl: string;
  log: Logger;
}

export function createHubServiceApp(d: HubServiceDeps): express.Express {
  const prefix = d.oauth.prefix;
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

  const context = (_req: Request, res: Response): PageContext => ({
    prefix,
    baseUrl: d.baseUrl,
    user: (res.locals.login as Login | undefined)?.user ?? null,
    nonce: res.locals.nonce as string,
  });
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
