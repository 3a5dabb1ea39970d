// Login through JupyterHub (the hub is the OAuth provider of its services): the browser is
// sent to <baseUrl>hub/api/oauth2/authorize, comes back to <prefix>oauth_callback with a
// code, which the service trades for a token (POST <hubApiUrl>/oauth2/token, authenticated
// by the service's api_token as client secret) and asks the hub whose it is (GET
// <hubApiUrl>/user). The token never reaches the browser; only the user model is kept.
import { validateUsername } from '../../contract/names.js';

export interface HubUser {
  name: string;
  admin: boolean;
  /** The token's scopes as the hub lists them (an admin page may require one). */
  scopes: string[];
}

export interface HubOAuthOptions {
  /** Server side, e.g. http://127.0.0.1:8081/hub/api */
  hubApiUrl: string;
  /** Browser side: JupyterHub's base_url, e.g. / */
  baseUrl: string;
  /** The service's name: client id service-<name>, prefix <baseUrl>services/<name>/ */
  serviceName: string;
  /** The service's api_token (the OAuth client secret). SECRET. */
  clientSecret: () => string;
  timeoutMs?: number;
}

export class HubOAuthError extends Error {}

export class HubOAuth {
  readonly clientId: string;
  readonly prefix: string;
  readonly redirectUri: string;

  constructor(private readonly o: HubOAuthOptions) {
    this.clientId = `service-${o.serviceName}`;
    this.prefix = `${o.baseUrl}services/${o.serviceName}/`;
    // JupyterHub's default for a service: the path alone (its host part is empty).
    this.redirectUri = `${this.prefix}oauth_callback`;
  }

  private get api(): string {
    return this.o.hubApiUrl.replace(/\/+$/, '');
  }

  /** Where to send the browser to log in. */
  authorizeUrl(state: string): string {
    const q = new URLSearchParams({ client_id: this.clientId, redirect_uri: this.redirectUri, response_type: 'code', state });
    return `${this.o.baseUrl}hub/api/oauth2/authorize?${q}`;
  }

  /** Trades the code from the callback for an access token. */
  async exchange(code: string): Promise<string> {
    const body = new URLSearchParams({
      client_id: this.clientId,
      client_secret: this.o.clientSecret(),
      grant_type: 'authorization_code',
      code,
      redirect_uri: this.redirectUri,
    });
    const r = await fetch(`${this.api}/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body,
      signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
    }).catch((e: Error) => {
      throw new HubOAuthError(`JupyterHub's token endpoint cannot be reached: ${e.message}`);
    });
    const doc = (await r.json().catch(() => null)) as { access_token?: unknown } | null;
    if (!r.ok || typeof doc?.access_token !== 'string') throw new HubOAuthError(`JupyterHub refused the login code (HTTP ${r.status})`);
    return doc.access_token;
  }

  /** Whose token this is; null when the hub no longer accepts it (revoked, logged out). */
  async identify(accessToken: string): Promise<HubUser | null> {
    const r = await fetch(`${this.api}/user`, {
      headers: { Authorization: `token ${accessToken}`, Accept: 'application/json' },
      signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
    }).catch((e: Error) => {
      throw new HubOAuthError(`JupyterHub cannot be reached: ${e.message}`);
    });
    if (r.status === 401 || r.status === 403) return null;
    const doc = (await r.json().catch(() => null)) as { kind?: unknown; name?: unknown; admin?: unknown; scopes?: unknown } | null;
    if (!r.ok || !doc) throw new HubOAuthError(`JupyterHub answered HTTP ${r.status} when asked who is logged in`);
    if (doc.kind !== undefined && doc.kind !== 'user') return null; // a service's token is nobody's session
    const name = validateUsername(doc.name);
    return { name, admin: doc.admin === true, scopes: Array.isArray(doc.scopes) ? doc.scopes.filter((s): s is string => typeof s === 'string') : [] };
  }
}
