// The failure causes an admin sees in hpc_bridge_spawn_failures_total, from what the service
// knows when a spawn fails (messages as start-env's steps write them), and the tunnel hooks.
import { describe, expect, it } from 'vitest';
import { BridgeMetrics } from '../../../hub-bridge/metrics/bridge-metrics.js';
import { failureCause } from '../../../hub-bridge/metrics/failure-cause.js';
import { SessionStore } from '../../../hub-bridge/store/session-store.js';
import type { JobStatus } from '../../../hub-bridge/cluster/hpc-wrap-client.js';
import type { Session } from '../../../hub-bridge/sessions/types.js';
import { sample } from '../../support/prometheus-text.js';

const ended = (message: string | null, extra: Partial<JobStatus> = {}): JobStatus => ({
  state: 'failed',
  exitCode: 1,
  node: null,
  reason: null,
  position: null,
  estimatedStart: null,
  outputTail: null,
  server: message === null ? null : { phase: 'exited', message, host: null, port: null, tunnel: null },
  ...extra,
});

describe('failureCause', () => {
  it('sorts refused submits by the refusal code', () => {
    expect(failureCause({ reason: 'scheduler', status: null })).toBe('scheduler_refused');
    expect(failureCause({ reason: 'maintenance', status: null })).toBe('maintenance');
    expect(failureCause({ reason: 'invalid', status: null })).toBe('hpc_wrap_refused');
    expect(failureCause({ reason: 'transport', status: null })).toBe('transport');
    expect(failureCause({ reason: null, status: null })).toBe('other');
  });

  it('reads the step that ended the server from its message', () => {
    expect(failureCause({ reason: 'failed', status: ended('the tunnel to tunnelbot@hub:22 did not come up within 60 s: connection refused') })).toBe('tunnel');
    expect(failureCause({ reason: 'failed', status: ended('the job has a tunnel but secrets.json holds no tunnel key (tunnelPrivateKey)') })).toBe('tunnel');
    expect(
      failureCause({
        reason: 'failed',
        status: ended('could not report port 40001 to the hub at http://hub:8081/hub/api/batchspawner within 60 s (12 attempts; last: ECONNREFUSED)'),
      }),
    ).toBe('port_report');
    expect(failureCause({ reason: 'failed', status: ended('JUPYTERHUB_API_URL is not set: the hub passes it in the spawner environment; it is where the port goes') })).toBe('port_report');
    expect(failureCause({ reason: 'failed', status: ended('the server exited with status 3') })).toBe('died_at_start');
    expect(failureCause({ reason: 'failed', status: ended(null) })).toBe('died_at_start');
  });

  it("takes the scheduler's time limit as a timeout", () => {
    expect(failureCause({ reason: 'TimeLimit', status: ended('the server was killed by SIGTERM', { reason: 'TimeLimit' }) })).toBe('timeout');
  });
});

describe('tunnel metrics', () => {
  const store = new SessionStore(':memory:');
  const m = new BridgeMetrics({ store, profiles: ['default'], processMetrics: false });
  const s = { id: 's-aaaaaaaaaaaaaaaaaaaaaaaaaa', profile: 'default' } as Session;
  const t = { id: 's-bbbbbbbbbbbbbbbbbbbbbbbbbb', profile: 'default' } as Session;

  it('counts tunnels by state and a reconnect when a tunnel comes back up', async () => {
    m.sessions.tunnel!(s, 'connecting', null);
    m.sessions.tunnel!(s, 'up', 'connecting');
    m.sessions.tunnel!(t, 'up', null);
    let text = (await m.text()).body;
    expect(sample(text, 'hpc_bridge_tunnels', { state: 'up' })).toBe(2);
    expect(sample(text, 'hpc_bridge_tunnel_reconnects_total')).toBe(0);
    m.sessions.tunnel!(s, 'down', 'up');
    text = (await m.text()).body;
    expect(sample(text, 'hpc_bridge_tunnels', { state: 'down' })).toBe(1);
    m.sessions.tunnel!(s, 'up', 'down');
    m.sessions.stopped!(t);
    text = (await m.text()).body;
    expect(sample(text, 'hpc_bridge_tunnel_reconnects_total')).toBe(1);
    expect(sample(text, 'hpc_bridge_tunnels', { state: 'up' })).toBe(1);
  });

  it('offers tunnel code a Prometheus-free interface for states, reconnects and bytes', async () => {
    m.tunnel.bytes('to_notebook', 1000);
    m.tunnel.bytes('from_notebook', 250);
    m.tunnel.bytes('from_notebook', -5); // ignored
    m.tunnel.reconnected(s.id);
    m.tunnel.state(s.id, 'closed');
    const text = (await m.text()).body;
    expect(sample(text, 'hpc_bridge_tunnel_bytes_total', { direction: 'to_notebook' })).toBe(1000);
    expect(sample(text, 'hpc_bridge_tunnel_bytes_total', { direction: 'from_notebook' })).toBe(250);
    expect(sample(text, 'hpc_bridge_tunnel_reconnects_total')).toBe(2);
    expect(sample(text, 'hpc_bridge_tunnels', { state: 'up' })).toBe(0);
    store.close();
  });
});

describe('status poll metrics', () => {
  it('records each poll and marks the scheduler unreachable until a poll reaches it again', async () => {
    const store = new SessionStore(':memory:');
    const m = new BridgeMetrics({ store, profiles: [], processMetrics: false });
    m.poller.polled!({ seconds: 0.2, jobs: 3, outcome: 'unreachable' });
    let text = (await m.text()).body;
    expect(sample(text, 'hpc_bridge_scheduler_reachable')).toBe(0);
    expect(sample(text, 'hpc_bridge_status_poll_failures_total', { kind: 'unreachable' })).toBe(1);
    m.poller.polled!({ seconds: 0.1, jobs: 4, outcome: 'transport' });
    m.poller.polled!({ seconds: 0.1, jobs: 4, outcome: 'ok' });
    text = (await m.text()).body;
    expect(sample(text, 'hpc_bridge_scheduler_reachable')).toBe(1);
    expect(sample(text, 'hpc_bridge_status_poll_failures_total', { kind: 'transport' })).toBe(1);
    expect(sample(text, 'hpc_bridge_status_poll_jobs_sum')).toBe(11);
    expect(sample(text, 'hpc_bridge_status_poll_duration_seconds_count')).toBe(3);
    store.close();
  });
});
