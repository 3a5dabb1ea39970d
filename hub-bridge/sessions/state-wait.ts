// A long poll on one session: resolves once the session has left a given state (every
// state change comes with an event on the service's emitter, written after the store), or
// when the time is up, or when the caller goes away. Lets a client such as the stock
// batchspawner submit helper learn "handed to the scheduler" the moment it happens instead
// of polling with sleeps (GET /v1/sessions/:id?waitWhile=submitting).
import type { EventEmitter } from 'node:events';
import type { SessionStore } from '../store/session-store.js';
import type { Session, SessionState } from './types.js';

export const MAX_WAIT_SECONDS = 60;

export function waitWhileState(
  events: EventEmitter,
  store: SessionStore,
  id: string,
  state: SessionState,
  timeoutMs: number,
  gone: AbortSignal,
): Promise<Session | undefined> {
  const now = store.get(id);
  if (!now || now.state !== state || gone.aborted) return Promise.resolve(now);
  return new Promise((resolve) => {
    const done = () => {
      events.off(id, onEvent);
      clearTimeout(timer);
      gone.removeEventListener('abort', done);
      resolve(store.get(id));
    };
    const onEvent = () => {
      if (store.get(id)?.state !== state) done();
    };
    const timer = setTimeout(done, timeoutMs);
    events.on(id, onEvent);
    gone.addEventListener('abort', done, { once: true });
  });
}
