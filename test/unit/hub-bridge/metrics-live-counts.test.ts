// hpc_bridge_sessions (live sessions by state and profile) is no longer a query at scrape
// time but counts the store keeps as it writes (store/live-counts.ts). What an admin
// graphs must still be what the database says: through a session's whole life, after the
// bridge restarts on a database with sessions in it, and after `hpc-bridge prune` ran
// from another process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { BridgeMetrics } from '../../../hub-bridge/metrics/bridge-metrics.js';
import type { SessionState } from '../../../hub-bridge/sessions/types.js';
import { SESSION_STATES } from '../../../hub-bridge/sessions/types.js';
import { prune } from '../../../hub-bridge/store/retention.js';
import { SessionStore } from '../../../hub-bridge/store/session-store.js';
import { parseSamples } from '../../support/prometheus-text.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const dbFile = () => {
  const d = mkdtempSync(join(tmpdir(), 'hpc-bridge-live-counts-'));
  dirs.push(d);
  return join(d, 'bridge.sqlite');
};

let n = 0;
const newSession = (store: SessionStore, profile: string) => {
  const id = `s-${String(++n).padStart(26, 'a').replace(/[0-9]/g, (d) => 'bcdefghijk'[Number(d)]!)}`;
  return store.create({ id, user: `u${n}`, serverName: '', profile, servicePrefix: `/user/u${n}/`, submitDoc: '{}' }, null);
};

/** The truth: what the sessions table says right now. */
function fromDatabase(store: SessionStore): Record<string, number> {
  const rows = store.database
    .prepare("SELECT state, profile, COUNT(*) AS n FROM sessions WHERE state NOT IN ('stopped','failed') GROUP BY state, profile")
    .all() as { state: string; profile: string; n: number }[];
  return Object.fromEntries(rows.map((r) => [`${r.state}/${r.profile}`, r.n]));
}

/** What Prometheus reads: the non-zero hpc_bridge_sessions series. */
async function scraped(m: BridgeMetrics): Promise<Record<string, number>> {
  const text = (await m.text()).body;
  const out: Record<string, number> = {};
  for (const s of parseSamples(text)) if (s.name === 'hpc_bridge_sessions' && s.value !== 0) out[`${s.labels.state}/${s.labels.profile}`] = s.value;
  return out;
}

describe('hpc_bridge_sessions from the live counts', () => {
  it('follows sessions through create → queued → starting → ready → stopping → stopped, and to failed', async () => {
    const store = new SessionStore(dbFile());
    const m = new BridgeMetrics({ store, profiles: ['small', 'gpu'], processMetrics: false });
    const a = newSession(store, 'small');
    const b = newSession(store, 'small');
    const c = newSession(store, 'gpu');
    expect(await scraped(m)).toEqual({ 'submitting/small': 2, 'submitting/gpu': 1 });
    store.update(a.id, { state: 'queued', jobId: '101' });
    store.update(b.id, { state: 'queued', jobId: '102' });
    store.update(c.id, { state: 'queued', jobId: '103' });
    expect(await scraped(m)).toEqual({ 'queued/small': 2, 'queued/gpu': 1 });
    store.update(a.id, { state: 'starting', node: 'n1' });
    store.update(a.id, { state: 'ready', host: 'n1', port: 8888 });
    store.update(a.id, { message: 'still ready', queuePosition: null }); // no state change: nothing moves
    store.update(c.id, { state: 'failed', message: 'died at start' });
    expect(await scraped(m)).toEqual({ 'ready/small': 1, 'queued/small': 1 });
    store.update(a.id, { state: 'stopping' });
    expect(await scraped(m)).toEqual({ 'stopping/small': 1, 'queued/small': 1 });
    store.update(a.id, { state: 'stopped' });
    store.update(b.id, { state: 'failed' });
    store.update(b.id, { state: 'failed', message: 'told twice' }); // an ended session written again stays uncounted
    expect(await scraped(m)).toEqual({});
    expect(fromDatabase(store)).toEqual({});
    // the configured profiles' series stay, at 0
    const text = (await m.text()).body;
    expect(parseSamples(text).filter((s) => s.name === 'hpc_bridge_sessions').length).toBe(5 * 2);
    store.close();
  });

  it('a bridge started on a database with sessions in it shows them (counted once at start)', async () => {
    const file = dbFile();
    const before = new SessionStore(file);
    const states: SessionState[] = ['queued', 'starting', 'ready', 'ready', 'stopping', 'stopped', 'failed'];
    for (let i = 0; i < 70; i++) {
      const s = newSession(before, i % 3 ? 'small' : 'gpu');
      before.update(s.id, { state: states[i % states.length]! });
    }
    newSession(before, 'small'); // left in submitting
    const truth = fromDatabase(before);
    before.close();

    const after = new SessionStore(file);
    const m = new BridgeMetrics({ store: after, profiles: ['small', 'gpu'], processMetrics: false });
    expect(await scraped(m)).toEqual(truth);
    expect(truth['ready/small']).toBeGreaterThan(0);
    // and it keeps counting from there (what restart recovery does to a session left in submitting)
    const left = after.list({ state: 'submitting' })[0]!;
    after.update(left.id, { state: 'failed', reason: 'restart' });
    expect(await scraped(m)).toEqual(fromDatabase(after));
    expect((await scraped(m))['submitting/small']).toBeUndefined();
    after.close();
  });

  it('prune from another process (the CLI) removes ended sessions only: the counts stay right', async () => {
    const file = dbFile();
    const bridgeStore = new SessionStore(file);
    const m = new BridgeMetrics({ store: bridgeStore, profiles: ['small'], processMetrics: false });
    const ids = Array.from({ length: 6 }, () => newSession(bridgeStore, 'small').id);
    ids.forEach((id, i) => bridgeStore.update(id, { state: (['ready', 'queued', 'stopped', 'failed', 'stopped', 'ready'] as const)[i]! }));
    const beforePrune = await scraped(m);
    expect(beforePrune).toEqual({ 'ready/small': 2, 'queued/small': 1 });

    const cli = new SessionStore(file); // `hpc-bridge prune` opens the database itself
    const r = prune(cli.database, 3600, { now: Date.now() + 86_400_000 });
    cli.close();
    expect(r.removed.sessions).toBe(3);
    expect(bridgeStore.list().length).toBe(3);
    expect(await scraped(m)).toEqual(beforePrune);
    expect(await scraped(m)).toEqual(fromDatabase(bridgeStore));
    bridgeStore.close();
  });

  it('shows a profile no longer in the config while its sessions live, and drops it after', async () => {
    const store = new SessionStore(':memory:');
    const m = new BridgeMetrics({ store, profiles: ['small'], processMetrics: false });
    const s = newSession(store, 'retired');
    store.update(s.id, { state: 'ready' });
    expect(await scraped(m)).toEqual({ 'ready/retired': 1 });
    store.update(s.id, { state: 'stopped' });
    const text = (await m.text()).body;
    expect(parseSamples(text).filter((x) => x.name === 'hpc_bridge_sessions' && x.labels.profile === 'retired')).toEqual([]);
    store.close();
  });

  it('any sequence of creates, state and profile changes and prunes keeps the counts equal to the database', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('create' as const), profile: fc.constantFrom('a', 'b', 'c') }),
      fc.record({ kind: fc.constant('state' as const), pick: fc.nat(), state: fc.constantFrom(...SESSION_STATES) }),
      fc.record({ kind: fc.constant('profile' as const), pick: fc.nat(), profile: fc.constantFrom('a', 'b', 'c') }),
      fc.record({ kind: fc.constant('prune' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const store = new SessionStore(':memory:');
        try {
          const ids: string[] = [];
          for (const o of ops) {
            if (o.kind === 'create') ids.push(newSession(store, o.profile).id);
            else if (o.kind === 'prune') prune(store.database, 0, { now: Date.now() + 60_000 });
            else if (ids.length > 0) {
              const id = ids[o.pick % ids.length]!;
              if (!store.get(id)) continue; // pruned
              store.update(id, o.kind === 'state' ? { state: o.state } : { profile: o.profile });
            }
          }
          const counted = Object.fromEntries(store.liveCounts().map((c) => [`${c.state}/${c.profile}`, c.n]));
          expect(counted).toEqual(fromDatabase(store));
        } finally {
          store.close();
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('hpc_bridge_tunnels counted as tunnels change', () => {
  it('counts each session once, in its latest state, and forgets ended ones', async () => {
    const store = new SessionStore(':memory:');
    const m = new BridgeMetrics({ store, profiles: ['small'], processMetrics: false });
    const tunnels = async () => {
      const text = (await m.text()).body;
      return Object.fromEntries(parseSamples(text).filter((s) => s.name === 'hpc_bridge_tunnels').map((s) => [s.labels.state, s.value]));
    };
    const [a, b, c] = [newSession(store, 'small'), newSession(store, 'small'), newSession(store, 'small')];
    m.sessions.tunnel!(a, 'connecting', null);
    m.sessions.tunnel!(a, 'up', 'connecting');
    m.sessions.tunnel!(a, 'up', 'up'); // told twice
    m.tunnel.state(b.id, 'up');
    m.tunnel.state(c.id, 'down');
    expect(await tunnels()).toEqual({ connecting: 0, up: 2, down: 1 });
    m.sessions.failed!(c, { reason: 'failed', status: null });
    m.tunnel.state(b.id, 'closed');
    m.tunnel.state(b.id, 'closed'); // closing twice takes nothing more away
    expect(await tunnels()).toEqual({ connecting: 0, up: 1, down: 0 });
    m.sessions.stopped!(a);
    expect(await tunnels()).toEqual({ connecting: 0, up: 0, down: 0 });
    store.close();
  });
});
