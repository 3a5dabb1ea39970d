// The PromQL of the shipped examples (Grafana dashboard, alert rules), for tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO } from './bridge-fixture.js';

export const DASHBOARD = join(REPO, 'examples/grafana/hpc-bridge-dashboard.json');
export const ALERT_RULES = join(REPO, 'examples/prometheus/hpc-bridge-alerts.yml');

export function dashboardExprs(): string[] {
  const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  return d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

export function alertExprs(): string[] {
  const r = parse(readFileSync(ALERT_RULES, 'utf8')) as { groups: { rules: { expr: string }[] }[] };
  return r.groups.flatMap((g) => g.rules.map((x) => x.expr));
}

/** A dashboard expression as Grafana would send it (its variables filled in). */
export function asGrafanaSends(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*');
}
