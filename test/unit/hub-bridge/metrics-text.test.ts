// GET /metrics writes the text itself (metrics/prom-text.ts, cheaper than prom-client's
// Registry.metrics()): Prometheus must read exactly what prom-client would have written,
// every metric and every label of the bridge's registry included. process_open_fds is
// counted with one stat (metrics/open-fds.ts): it must say what listing /proc/self/fd says.
import { closeSync, openSync, readdirSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BridgeMetrics } from '../../../hub-bridge/metrics/bridge-metrics.js';
import { openFds } from '../../../hub-bridge/metrics/open-fds.js';
import { renderText } from '../../../hub-bridge/metrics/prom-text.js';
import type { Session } from '../../../hub-bridge/sessions/types.js';
import { SessionStore } from '../../../hub-bridge/store/session-store.js';
import { parseSamples, sample } from '../../support/prometheus-text.js';

describe('renderText', () => {
  it('writes the same text as prom-client for counters, gauges and histograms, labels and escapes included', async () => {
    const r = new Registry();
    const c = new Counter({ name: 't_requests_total', help: 'Requests; a help with a \\ backslash\nand a newline.', labelNames: ['route', 'code'], registers: [r] });
    c.inc({ route: '/v1/sessions/:id', code: '200' }, 3);
    c.inc({ route: 'say "hi"\\ \nnow', code: '500' });
    const g = new Gauge({ name: 't_temperature', help: 'A gauge.', registers: [r] });
    g.set(-2.5);
    new Gauge({ name: 't_empty', help: 'No samples yet.', labelNames: ['x'], registers: [r] });
    new Gauge({ name: 't_inf', help: 'Infinite.', registers: [r] }).set(Infinity);
    const h = new Histogram({ name: 't_seconds', help: 'A histogram.', labelNames: ['profile'], buckets: [0.1, 1, 10], registers: [r] });
    h.observe({ profile: 'small' }, 0.05);
    h.observe({ profile: 'small' }, 5);
    h.observe({ profile: 'gpu' }, 50);
    const plain = new Histogram({ name: 't_plain', help: 'No labels.', buckets: [1], registers: [r] });
    plain.observe(0.5);
    expect(await renderText(r)).toBe(await r.metrics());
  });

  it('writes NaN as the text format spells it', async () => {
    const r = new Registry();
    new Gauge({ name: 't_nan', help: 'Not a number.', registers: [r] }).set(NaN);
    expect(await renderText(r)).toBe('# HELP t_nan Not a number.\n# TYPE t_nan gauge\nt_nan NaN\n');
  });

  it("loses nothing of the bridge's own registry (process metrics included)", async () => {
    const store = new SessionStore(':memory:');
    const m = new BridgeMetrics({ store, profiles: ['small', 'gpu'] });
    const s = store.create({ id: 's-aaaaaaaaaaaaaaaaaaaaaaaaaa', user: 'u', serverName: '', profile: 'small', servicePrefix: '/user/u/', submitDoc: '{}' }, null);
    m.sessions.created!(s);
    m.sessions.ready!({ ...s, createdAt: new Date(Date.now() - 30_000).toISOString() } as Session);
    m.sessions.tunnel!(s, 'up', null);
    m.poller.polled!({ seconds: 0.3, jobs: 2, outcome: 'ok' });
    m.httpDuration.observe({ method: 'GET', route: '/v1/sessions/:id', code: '200' }, 0.002);
    const ours = (await m.text()).body;
    const theirs = await m.registry.metrics();
    // (a garbage collection of a new kind between the two reads would add a nodejs_gc_duration_seconds series)
    const series = (t: string) =>
      parseSamples(t)
        .filter((x) => !x.name.startsWith('nodejs_gc_duration_seconds'))
        .map((x) => `${x.name}${JSON.stringify(x.labels)}`)
        .sort();
    expect(series(ours)).toEqual(series(theirs));
    const meta = (t: string) => t.split('\n').filter((l) => l.startsWith('#'));
    expect(meta(ours)).toEqual(meta(theirs));
    // values that do not move between two reads are the same
    const stable = (t: string) => parseSamples(t).filter((x) => x.name.startsWith('hpc_bridge_'));
    expect(stable(ours)).toEqual(stable(theirs));
    store.close();
  });

  it('process_open_fds says what listing /proc/self/fd says, also with many descriptors open', async () => {
    const store = new SessionStore(':memory:');
    const m = new BridgeMetrics({ store, profiles: [] });
    const listed = () => readdirSync('/proc/self/fd').length - 1; // minus readdir's own
    const before = openFds()!;
    expect(before).toBe(listed());
    const opened = Array.from({ length: 500 }, () => openSync('/dev/null', 'r'));
    try {
      const scraped = sample((await m.text()).body, 'process_open_fds')!;
      expect(scraped).toBe(listed());
      expect(scraped - before).toBe(500);
    } finally {
      for (const fd of opened) closeSync(fd);
    }
    expect(openFds()).toBe(before);
    store.close();
  });
});
