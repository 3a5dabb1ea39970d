// The examples an admin imports (Grafana dashboard, Prometheus alert rules) only name
// metrics the bridge exports: a renamed metric breaks this test, not a site's dashboard.
// (Their PromQL is parsed by a real Prometheus in test/system/metrics-prometheus.test.ts.)
import { describe, expect, it } from 'vitest';
import { BridgeMetrics } from '../../../hub-bridge/metrics/bridge-metrics.js';
import { SessionStore } from '../../../hub-bridge/store/session-store.js';
import { alertExprs, dashboardExprs } from '../../support/metrics-examples.js';
import { parseSamples } from '../../support/prometheus-text.js';

const metricNames = (expr: string) => [...expr.matchAll(/\b((?:hpc_bridge|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1]!);

describe('examples', () => {
  const store = new SessionStore(':memory:');
  const m = new BridgeMetrics({ store, profiles: ['p'] });

  it('name only metrics the bridge exports', async () => {
    const exported = new Set(parseSamples((await m.text()).body).map((s) => s.name));
    // histograms with labels have no series before their first observation
    for (const metric of await m.registry.getMetricsAsJSON()) {
      if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(metric.name + suffix);
    }
    const used = [...new Set([...dashboardExprs(), ...alertExprs()].flatMap(metricNames))];
    expect(used.length).toBeGreaterThan(15);
    expect(used.filter((n) => !exported.has(n))).toEqual([]);
  });

  it('the dashboard has a panel for each part the issue names', () => {
    const all = dashboardExprs().join('\n');
    for (const name of ['hpc_bridge_sessions', 'hpc_bridge_spawn_duration_seconds', 'hpc_bridge_queue_wait_seconds', 'hpc_bridge_spawn_failures_total',
      'hpc_bridge_status_poll_duration_seconds', 'hpc_bridge_scheduler_reachable', 'hpc_bridge_tunnels', 'hpc_bridge_tunnel_reconnects_total',
      'hpc_bridge_tunnel_bytes_total', 'hpc_bridge_http_request_duration_seconds', 'process_resident_memory_bytes']) {
      expect(all).toContain(name);
    }
  });
});
