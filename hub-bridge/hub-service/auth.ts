// Who is asking: every page of the hub service requires a login through the hub (see
// hub-oauth.ts); res.locals.login then holds the user (name, admin flag, scopes) for the
// pages, and POSTs must carry the login's CSRF token. The admin page adds requireAdmin.
import { timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import { cookieHeader, readCookie } from './cookies.js';
import { HubOAuthError, type HubOAuth, type HubUser } from './hub-oauth.js';
import type { Login, LoginSessions } from './login-sessions.js';

export const LOGIN_COOKIE = 'hpcb-login';
export const STATE_COOKIE = 'hpcb-oauth-state';
/** How often a login's token is checked with the hub again (a hub logout revokes it). */
const RECHECK_MS = 5 * 60_000;

export interface AuthDeps {
  oauth: HubOAuth;
  logins: LoginSessions;
  log: Logger;
  /** Renders an error page (status, sentence). */
  problem(req: Request, res: Response, status: number, sentence: string): void;
}

const secure = (req: Request) => req.secure;

/** Only paths under the prefix may be a post-login target (no open redirect). */
function safeNext(prefix: string, wanted: string): string {
  return wanted.startsWith(prefix) && !wanted.startsWith('//') && !/[\\\r\n]/.test(wanted) ? wanted : prefix;
}

export function loginOf(res: Response): Login {
  return res.locals.login as Login;
}

/** GET <prefix>oauth_callback: the hub sends the browser back here with a login code. */
export function authRoutes(d: AuthDeps): Router {
  const r = express.Router();
  r.get('/oauth_callback', async (req, res) => {
    const state = typeof req.query.state === 'string' ? req.query.state : '';
    const code = typeof req.query.code === 'string' ? req.query.code : '';
    const cookieState = readCookie(req.get('cookie'), STATE_COOKIE);
    res.append('Set-Cookie', cookieHeader(STATE_COOKIE, '', { path: d.oauth.prefix, secure: secure(req), maxAge: 0 }));
    const pending = state && cookieState === state ? d.logins.finish(state) : null;
    if (!pending || !code) return d.problem(req, res, 400, 'This login link is not valid any more (it was used already, or it is too old). Open the page again to log in.');
    try {
      const token = await d.oauth.exchange(code);
      const user = await d.oauth.identify(token);
      if (!user) return d.problem(req, res, 403, 'The hub did not confirm who you are. Log in to the hub again, then open this page again.');
      const login = d.logins.create(user, token);
      res.append('Set-Cookie', cookieHeader(LOGIN_COOKIE, login.id, { path: d.oauth.prefix, secure: secure(req) }));
      d.log.info({ user: user.name }, 'hub service login');
      res.redirect(303, safeNext(d.oauth.prefix, pending.next));
    } catch (err) {
      if (!(err instanceof HubOAuthError)) throw err;
      d.log.warn({ err: err.message }, 'hub service login failed');
      d.problem(req, res, 502, 'The hub could not confirm your login right now. Try again in a minute.');
    }
  });
  return r;
}

/** Every page: a valid login, else (GET) off to the hub to log in, or (other methods) 403. */
export function requireLogin(d: AuthDeps): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    if (req.path === '/oauth_callback') return next();
    let login = d.logins.get(readCookie(req.get('cookie'), LOGIN_COOKIE));
    if (login && Date.now() - login.checkedAt > RECHECK_MS) {
      try {
        const user = await d.oauth.identify(login.token);
        if (user && user.name === login.user.name) {
          login.user = user;
          login.checkedAt = Date.now();
        } else {
          d.logins.end(login.id);
          login = null;
        }
      } catch (err) {
        // The hub cannot be asked: the login (checked before, still within its lifetime) holds.
        d.log.warn({ err: (err as Error).message }, 'hub unreachable; keeping a hub service login unchecked');
      }
    }
    if (login) {
      res.locals.login = login;
      return next();
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return d.problem(req, res, 403, 'You are not logged in here any more. Open the page again to log in through the hub.');
    const state = d.logins.begin(safeNext(d.oauth.prefix, req.originalUrl));
    res.append('Set-Cookie', cookieHeader(STATE_COOKIE, state, { path: d.oauth.prefix, secure: secure(req), maxAge: 600 }));
    res.redirect(302, d.oauth.authorizeUrl(state));
  };
}

/** A JupyterHub admin, or a user whose login carries the admin scope (hubService.adminScope). */
export function isServiceAdmin(user: HubUser, adminScope: string | null): boolean {
  return user.admin || (adminScope !== null && user.scopes.includes(adminScope));
}

export const NOT_ADMIN = "This page is for the hub's administrators. If you need it, ask them to give you access.";

/** For admin pages: JupyterHub admins and holders of the admin scope; anybody else gets 403. */
export function requireAdmin(d: Pick<AuthDeps, 'problem'> & { adminScope: string | null }): RequestHandler {
  return (req, res, next) => (isServiceAdmin(loginOf(res).user, d.adminScope) ? next() : d.problem(req, res, 403, NOT_ADMIN));
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** POSTs carry the login's CSRF token (form field _csrf), and an Origin, when sent, of this host. */
export function checkCsrf(d: Pick<AuthDeps, 'problem'>): RequestHandler {
  return (req, res, next) => {
    const login = res.locals.login as Login | undefined;
    const given = typeof req.body?._csrf === 'string' ? req.body._csrf : '';
    const origin = req.get('origin');
    let originOk = true;
    if (origin) {
      try {
        originOk = new URL(origin).host === req.get('host');
      } catch {
        originOk = false;
      }
    }
    if (!login || !originOk || !sameToken(given, login.csrf)) {
      return d.problem(req, res, 403, 'This form is too old or came from another site. Open the page again and repeat.');
    }
    next();
  };
}
