// Logins to the hub service, kept in memory (a bridge restart logs everyone out; the next
// page view logs in again through the hub without a prompt). The browser holds only a
// random id; the hub's token stays here and is re-checked with the hub every few minutes,
// so a logout on the hub (which revokes it) ends the login here too.
import { randomBytes } from 'node:crypto';
import type { HubUser } from './hub-oauth.js';

export interface Login {
  id: string;
  user: HubUser;
  /** The hub's OAuth token for this login. SECRET: never logged, never sent to the browser. */
  token: string;
  /** Anti-CSRF token for the forms of this login. */
  csrf: string;
  expiresAt: number;
  checkedAt: number;
}

export interface PendingLogin {
  /** Where to go after the login (a path under the prefix). */
  next: string;
  expiresAt: number;
}

const random = () => randomBytes(32).toString('base64url');

/** Bounded maps: the oldest entries go first when full (a flood of logins cannot grow memory). */
function bounded<V>(map: Map<string, V>, max: number): void {
  while (map.size > max) map.delete(map.keys().next().value!);
}

export class LoginSessions {
  private readonly logins = new Map<string, Login>();
  private readonly pending = new Map<string, PendingLogin>();

  constructor(
    private readonly lifetimeMs: number,
    private readonly now: () => number = Date.now,
    private readonly max = 10_000,
  ) {}

  /** Starts a login: the OAuth state (also kept in a cookie, binding it to this browser). */
  begin(next: string): string {
    const state = random();
    this.pending.set(state, { next, expiresAt: this.now() + 10 * 60_000 });
    bounded(this.pending, this.max);
    return state;
  }

  /** The pending login of this state, once (a replayed callback finds nothing). */
  finish(state: string): PendingLogin | null {
    const p = this.pending.get(state);
    this.pending.delete(state);
    return p && p.expiresAt > this.now() ? p : null;
  }

  create(user: HubUser, token: string): Login {
    const login: Login = { id: random(), user, token, csrf: random(), expiresAt: this.now() + this.lifetimeMs, checkedAt: this.now() };
    this.logins.set(login.id, login);
    bounded(this.logins, this.max);
    return login;
  }

  get(id: string | undefined): Login | null {
    if (!id) return null;
    const l = this.logins.get(id);
    if (!l) return null;
    if (l.expiresAt <= this.now()) {
      this.logins.delete(id);
      return null;
    }
    return l;
  }

  end(id: string): void {
    this.logins.delete(id);
  }
}
