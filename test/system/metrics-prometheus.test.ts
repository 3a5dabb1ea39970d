// The metrics endpoint against Debian's Prometheus tools: `promtool check metrics` accepts
// what GET /metrics serves, `promtool check rules` / `test rules` accept the example alerts,
// and a real Prometheus (own port, data dir and config, stopped by pid) scrapes the bridge
// with the metrics token from a credentials file, sees a session's counters move, and
// marks a scrape with the API token down (401).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHubBridgeConfig } from '../../config/load.js';
import { REPO, startBridgeFixture, STAND_IN_SERVER, waitFor, type BridgeFixture } from '../support/bridge-fixture.js';
import { ALERT_RULES as RULES, asGrafanaSends, dashboardExprs } from '../support/metrics-examples.js';
import { freePort, run, spawnDaemon, tail, terminate } from './harness/index.js';

const RULE_TESTS = join(REPO, 'examples/prometheus/hpc-bridge-alerts.test.yml');

let fx: BridgeFixture;
let dir: string;
let promPid: number | null = null;
let promUrl: string;
let metricsTokenFile: string;
let sessionId: string | null = null;

async function promQuery(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  expect(body.status).toBe('success');
  return body.data.result;
}

beforeAll(async () => {
  dir = mkdtempSync('/tmp/hb-prom-');
  fx = await startBridgeFixture();
  metricsTokenFile = loadHubBridgeConfig(fx.bridgeConfig).metrics.tokenFile;
  const bridgeTarget = fx.bridge.url.replace(/^http:\/\//, '');
  // The API token must not open /metrics: a second job scrapes with it and must be down.
  const apiTokenFile = join(dir, 'api-token');
  writeFileSync(apiTokenFile, fx.bridge.token, { mode: 0o600 });
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [RULES],
      scrape_configs: [
        { job_name: 'hpc-bridge', authorization: { type: 'Bearer', credentials_file: metricsTokenFile }, static_configs: [{ targets: [bridgeTarget] }] },
        { job_name: 'hpc-bridge-api-token', authorization: { type: 'Bearer', credentials_file: apiTokenFile }, static_configs: [{ targets: [bridgeTarget] }] },
      ],
    }),
  );
  promPid = spawnDaemon(
    ['prometheus', `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { cwd: dir, logFile: join(dir, 'prometheus.log') },
  );
}, 120_000);

afterAll(async () => {
  if (promPid !== null) await terminate(promPid, 10_000);
  if (sessionId) {
    // the test's job is stopped, not left running after the bridge closes
    await fetch(`${fx.bridge.url}/v1/sessions/${sessionId}`, { method: 'DELETE', headers: fx.auth });
    await waitFor('the session to stop', () => (fx.bridge.store.get(sessionId!)?.state === 'stopped' ? true : undefined), 30_000);
  }
  await fx?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('Prometheus', () => {
  it('promtool check metrics accepts what GET /metrics serves', async () => {
    const token = readFileSync(metricsTokenFile, 'utf8').trim();
    const text = await (await fetch(`${fx.bridge.url}/metrics`, { headers: { Authorization: `Bearer ${token}` } })).text();
    const r = await run(['promtool', 'check', 'metrics'], { input: text });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((r.stdout + r.stderr).trim()).toBe('');
  });

  it('promtool checks the example alert rules and their unit tests', async () => {
    const check = await run(['promtool', 'check', 'rules', RULES]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/SUCCESS: 3 rules found/);
    const unit = await run(['promtool', 'test', 'rules', RULE_TESTS], { cwd: join(REPO, 'examples/prometheus') });
    expect(unit.code, unit.stdout + unit.stderr).toBe(0);
  });

  it('a real Prometheus scrapes the bridge with the metrics token and sees a session start; the API token is refused', async () => {
    const targets = await waitFor(
      'both targets scraped',
      async () => {
        const r = (await (await fetch(`${promUrl}/api/v1/targets`)).json()) as { data: { activeTargets: { labels: { job: string }; health: string; lastError: string }[] } };
        const t = r.data.activeTargets;
        return t.length === 2 && t.every((x) => x.health !== 'unknown') ? t : undefined;
      },
      30_000,
      250,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n${tail(join(dir, 'prometheus.log'))}`);
    });
    const byJob = Object.fromEntries(targets.map((t) => [t.labels.job, t]));
    expect(byJob['hpc-bridge']!.health).toBe('up');
    expect(byJob['hpc-bridge-api-token']!.health).toBe('down');
    expect(byJob['hpc-bridge-api-token']!.lastError).toMatch(/401/);

    const user = 'prom-alice';
    const res = await fetch(`${fx.bridge.url}/v1/sessions`, {
      method: 'POST',
      headers: { ...fx.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ user, profile: 'small', env: { JUPYTERHUB_SERVICE_PREFIX: `/user/${user}/` }, command: [process.execPath, STAND_IN_SERVER] }),
    });
    expect(res.status).toBe(201);
    sessionId = ((await res.json()) as { id: string }).id;
    const result = await waitFor(
      'Prometheus to have the ready session',
      async () => {
        const r = await promQuery('hpc_bridge_sessions_ready_total{job="hpc-bridge",profile="small"}');
        return r.length === 1 && r[0]!.value[1] === '1' ? r : undefined;
      },
      60_000,
      500,
    );
    expect(result[0]!.metric.instance).toBe(fx.bridge.url.replace(/^http:\/\//, ''));
    const spawn = await promQuery('hpc_bridge_spawn_duration_seconds_count{job="hpc-bridge"}');
    expect(spawn.map((s) => Number(s.value[1]))).toContain(1);
    // every panel of the example dashboard is a query this Prometheus accepts, and most have data
    let withData = 0;
    for (const expr of dashboardExprs()) {
      const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(asGrafanaSends(expr))}`);
      const body = (await r.json()) as { status: string; error?: string; data?: { result: unknown[] } };
      expect(body.status, `${expr}: ${body.error}`).toBe('success');
      if (body.data!.result.length > 0) withData++;
    }
    expect(withData).toBeGreaterThan(dashboardExprs().length / 2);
    const rules = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: { name: string; rules: { name: string; health: string }[] }[] } };
    const group = rules.data.groups.find((g) => g.name === 'hpc-bridge')!;
    expect(group.rules.map((r) => [r.name, r.health])).toEqual([
      ['HpcBridgeSchedulerUnreachable', 'ok'],
      ['HpcBridgeSpawnFailureRatioHigh', 'ok'],
      ['HpcBridgeTunnelReconnectStorm', 'ok'],
    ]);
  }, 120_000);
});
