// Which route a request is for, and whether the browser sent it on purpose: the label from
// the Host (subdomain mode) or the first path segment (path mode), the session cookie,
// and the origin checks that stand in for the notebook's own XSRF check (which it skips
// for token-authenticated requests, and every request through the gateway carries the token).
import type { IncomingMessage } from 'node:http';
import { API_PREFIX } from '../../contract/launch.js';

export type Mode = 'subdomain' | 'path';

export interface Addressed {
  kind: 'route';
  label: string;
  /** Where the route's paths start: '/' or '/<label>/'. */
  basePath: string;
}

export type Target = Addressed | { kind: 'api' } | { kind: 'none' };

function hostName(host: string | undefined): string {
  return (host ?? '').toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
}

/** What a request addresses: a route, the registration API (under /_hpcwrap/v1, on any name but a route's), or nothing. */
export function targetOf(req: Pick<IncomingMessage, 'headers' | 'url'>, mode: Mode, domain: string): Target {
  const host = hostName(req.headers.host);
  const bare = hostName(domain);
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const isApi = path === API_PREFIX || path.startsWith(`${API_PREFIX}/`);
  // The API answers on any name that is not a route's (login nodes may use an internal one).
  if (isApi && (mode === 'path' || !host.endsWith(`.${bare}`))) return { kind: 'api' };
  if (mode === 'subdomain') {
    if (!host.endsWith(`.${bare}`)) return { kind: 'none' };
    const label = host.slice(0, -bare.length - 1);
    return label.includes('.') ? { kind: 'none' } : { kind: 'route', label, basePath: '/' };
  }
  if (host !== bare) return { kind: 'none' };
  const m = /^\/([^/]+)(\/|$)/.exec(path);
  if (!m) return { kind: 'none' };
  return { kind: 'route', label: m[1]!, basePath: `/${m[1]}/` };
}

export function cookieName(mode: Mode): string {
  // __Host-: Secure, host-only, Path=/ (one origin per session); path mode shares a host.
  return mode === 'subdomain' ? '__Host-hpcwrap' : '__Secure-hpcwrap';
}

export function cookieHeader(mode: Mode, basePath: string, value: string): string {
  return `${cookieName(mode)}=${value}; Path=${basePath}; Secure; HttpOnly; SameSite=Lax`;
}

/** The values of our cookie in the request (a browser may send several for nested paths). */
export function readCookies(req: Pick<IncomingMessage, 'headers'>, name: string): string[] {
  const out: string[] = [];
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) out.push(part.slice(i + 1).trim());
  }
  return out;
}

/** The Cookie header without ours: the notebook never sees the gateway's session. */
export function stripCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  const kept = header
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p && p.slice(0, p.indexOf('=') < 0 ? p.length : p.indexOf('=')).trim() !== name);
  return kept.length ? kept.join('; ') : undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * True when the request may have been made by another site (or another session's page in
 * path mode): a state-changing method or a WebSocket whose Origin is not this route's own,
 * or that the browser marks as cross-site / same-site (Sec-Fetch-Site).
 */
export function crossOrigin(req: Pick<IncomingMessage, 'headers' | 'method'>, ownOrigin: string, websocket: boolean): boolean {
  if (!websocket && SAFE_METHODS.has((req.method ?? 'GET').toUpperCase())) return false;
  const origin = req.headers.origin;
  if (origin !== undefined && origin.toLowerCase() !== ownOrigin.toLowerCase()) return true;
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return true;
  return false;
}

/** The URL with the one-time token parameter removed (for the redirect after redeeming). */
export function withoutToken(url: string, param: string): string {
  const u = new URL(url, 'https://x');
  u.searchParams.delete(param);
  return `${u.pathname}${u.search}`;
}

export function clientAddress(req: Pick<IncomingMessage, 'socket'>): string {
  return (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}
