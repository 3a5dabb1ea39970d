// The Prometheus text format (0.0.4) of a prom-client registry, written with few
// allocations. prom-client's own Registry.metrics() builds several arrays and a WeakMap
// entry per sample line (its shared-label cache is keyed by a fresh object each time);
// with the bridge's ~500 lines that made one scrape cost ~0.3 ms and a garbage collection
// every 15-30 scrapes, and those collections were the tail of GET /metrics (issue 12:
// < 5 ms p99; test/bench/metrics-endpoint.ts). Values still come from prom-client (each
// metric's own get, collect functions included); only the text is ours. The output is the
// same text prom-client writes (a unit test compares them), except NaN, which is written
// `NaN` as the format says (prom-client writes `Nan`).
import type { Registry } from 'prom-client';

type LabelSet = Record<string, string | number | undefined>;

interface Sample {
  value: number;
  labels?: LabelSet;
  /** Histograms: the series' own labels, written after `le` (the same object for all its lines). */
  sharedLabels?: LabelSet;
  metricName?: string;
}

interface Rendered {
  name: string;
  help: string;
  type: string;
  values?: Sample[];
}

/** What the registry holds: every metric has get(); histograms also the unsplayed form the registry itself uses. */
interface Readable {
  get(): Promise<Rendered> | Rendered;
  getForPromString?(): Promise<Rendered> | Rendered;
}

const escapeHelp = (s: string) => (/[\\\n]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n') : s);

function labelValue(v: string | number | undefined): string {
  if (typeof v !== 'string') return String(v);
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : v;
}

function numberText(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** `a="1",b="2"` for the keys of `labels` that `except` does not have. */
function labelPairs(labels: LabelSet | undefined, except: LabelSet | undefined): string {
  let out = '';
  if (!labels) return out;
  for (const k in labels) {
    if (except && Object.prototype.hasOwnProperty.call(except, k)) continue;
    out += `${out ? ',' : ''}${k}="${labelValue(labels[k])}"`;
  }
  return out;
}

function metricText(m: Rendered): string {
  const name = escapeHelp(m.name);
  let out = `# HELP ${name} ${escapeHelp(m.help)}\n# TYPE ${name} ${m.type}`;
  let lastShared: LabelSet | undefined;
  let lastSharedText = '';
  for (const v of m.values ?? []) {
    if (v.sharedLabels !== lastShared) {
      lastShared = v.sharedLabels;
      lastSharedText = labelPairs(v.sharedLabels, undefined);
    }
    const own = labelPairs(v.labels, v.sharedLabels);
    const all = own && lastSharedText ? `${own},${lastSharedText}` : own || lastSharedText;
    out += `\n${v.metricName ?? name}${all ? `{${all}}` : ''} ${numberText(v.value)}`;
  }
  return out;
}

/** The registry's text, as Registry.metrics() writes it (Prometheus content type; no default labels). */
export async function renderText(registry: Registry): Promise<string> {
  const metrics = registry.getMetricsAsArray() as unknown as Readable[];
  const rendered = await Promise.all(metrics.map((m) => (m.getForPromString ? m.getForPromString() : m.get())));
  let out = '';
  for (let i = 0; i < rendered.length; i++) out += (i ? '\n\n' : '') + metricText(rendered[i]!);
  return `${out}\n`;
}
