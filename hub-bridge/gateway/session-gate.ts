// The browser's way into a route: the one-time token of the printed URL is exchanged, on
// the first visit, for a session cookie (HttpOnly, Secure, bound to the route: host-only
// in subdomain mode, Path=/<label>/ in path mode). A token is accepted once; afterwards
// only the cookie opens the route, so a copied URL is useless in another browser.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { randomSecret, secretHash, TOKEN_PARAM } from '../../contract/launch.js';
import type { AuditLog } from './audit-log.js';
import { routeFingerprint, type Route } from './route.js';
import type { RouteStore } from './route-store.js';
import { cookieHeader, cookieName, readCookies, withoutToken, type Mode } from './request-routing.js';

export type GateResult =
  | { kind: 'session' }
  /** Redeemed (or a token on a request that already has the session): redirect without the token. */
  | { kind: 'redirect'; location: string; setCookie: string | null }
  | { kind: 'refused' };

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class SessionGate {
  constructor(
    private readonly mode: Mode,
    private readonly store: RouteStore,
    private readonly audit: AuditLog,
  ) {}

  hasSession(req: Pick<IncomingMessage, 'headers'>, route: Route | null): boolean {
    if (!route) return false;
    const hashes = route.record.cookieHashes;
    return readCookies(req, cookieName(this.mode)).some((v) => {
      const h = secretHash(v);
      return hashes.some((k) => sameHash(h, k));
    });
  }

  /** Decides a request for a route (route null = unknown label: refused like a wrong token). */
  admit(req: IncomingMessage, route: Route | null, basePath: string, remote: string): GateResult {
    const url = new URL(req.url ?? '/', 'https://x');
    const token = url.searchParams.get(TOKEN_PARAM);
    const session = this.hasSession(req, route);
    if (token === null) return session ? { kind: 'session' } : { kind: 'refused' };
    if (session) return { kind: 'redirect', location: withoutToken(req.url ?? '/', TOKEN_PARAM), setCookie: null };
    const expected = route?.record.tokenHash ?? null;
    // Compare even when there is nothing to compare with, so the work does not depend on it.
    const match = sameHash(secretHash(token), expected ?? 'x'.repeat(43)) && expected !== null && route !== null && route.live.endedAt === null;
    if (!match || !route) {
      if (route) this.audit.write('redeem-refused', { route: routeFingerprint(route.record.label), owner: route.record.owner, remote, reason: expected === null ? 'already used' : 'wrong token' });
      return { kind: 'refused' };
    }
    const cookie = randomSecret();
    const hash = secretHash(cookie);
    route.record.tokenHash = null;
    route.record.cookieHashes.push(hash);
    this.store.redeem(route.record.label, hash);
    this.audit.write('redeem', { route: routeFingerprint(route.record.label), owner: route.record.owner, jobId: route.record.jobId, remote });
    return { kind: 'redirect', location: withoutToken(req.url ?? '/', TOKEN_PARAM), setCookie: cookieHeader(this.mode, basePath, cookie) };
  }
}
