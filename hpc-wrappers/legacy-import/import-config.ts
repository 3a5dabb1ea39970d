// `hpc-wrap config import`: a legacy JHub-HPC-Interface config (jh_config or
// jh_config.ini) → hpc-wrap.yaml and the hub's part (hub-bridge.yaml), with a report row
// for every option: mapped, changed (and how), not needed (and why), not mapped (and why).
// A value the schema refuses turns its option into "not mapped" with the schema's reason,
// so the result always passes the loader.
import { hpcWrapSchema, hubBridgeSchema } from '../../config/schema.js';
import { formatIssues } from '../../config/load.js';
import { setPath } from '../wizard/wizard-config.js';
import { looksLikeIni, parseIniConfig } from './ini-config-parser.js';
import { qualifiedName, type IgnoredLine, type LegacyOption } from './legacy-options.js';
import { CLUSTER_HANDLERS } from './map-cluster.js';
import { MapContext, notMapped, notNeeded, type Outcome, type Status, type Target, type TargetFile } from './map-context.js';
import { ENVIRONMENT_HANDLERS, isSecretOption } from './map-environment.js';
import type { LegacyScheduler } from './legacy-scheduler.js';
import { parseShellConfig } from './shell-config-parser.js';

export interface ReportRow {
  option: string;
  line: number;
  /** The value as written, or "<not shown>" for secrets. */
  shown: string;
  status: Status;
  /** "hpc-wrap.yaml scheduler.submit", ... */
  targets: string[];
  note: string;
}

export interface ImportResult {
  generation: 'shell' | 'ini';
  /** The scheduler the file drives (kind null: its commands do not tell; nothing may be written). */
  scheduler: LegacyScheduler;
  hpc: Record<string, unknown>;
  hub: Record<string, unknown>;
  rows: ReportRow[];
  ignored: IgnoredLine[];
}

const HANDLERS = { ...CLUSTER_HANDLERS, ...ENVIRONMENT_HANDLERS };
const SECRET_TEXT = /priv_key|password|passwd|token|secret|PRIVATE KEY|_WDT/i;
const FILE_NAME: Record<TargetFile, string> = { hpc: 'hpc-wrap.yaml', hub: 'hub-bridge.yaml' };
const SCHEMA = { hpc: hpcWrapSchema, hub: hubBridgeSchema };

function outcomeOf(o: LegacyOption, ctx: MapContext): Outcome {
  const handler = Object.hasOwn(HANDLERS, o.name) ? HANDLERS[o.name] : undefined;
  if (!handler && /^cmd_\w+_filter$/.test(o.name)) return notNeeded('hpc-wrap parses the scheduler\'s output itself; no filter commands');
  if (!handler) return notMapped('not an option of either JHub-HPC-Interface generation (jh_config or jh_config.ini): check the spelling');
  return handler(o, ctx);
}

function build(outcomes: Outcome[]): Record<TargetFile, Record<string, unknown>> {
  const out: Record<TargetFile, Record<string, unknown>> = { hpc: {}, hub: {} };
  for (const oc of outcomes) {
    for (const t of oc.set ?? []) {
      const keys = t.path.split('.');
      if (t.append) {
        let cur: unknown = out[t.file];
        for (const k of keys) cur = (cur as Record<string, unknown> | undefined)?.[k];
        setPath(out[t.file], keys, [...((cur as unknown[] | undefined) ?? []), ...(t.value as unknown[])]);
      } else setPath(out[t.file], keys, t.value);
    }
  }
  return out;
}

/** Index of the outcomes whose keys are nearest to a schema issue at `issuePath`. */
function culprits(outcomes: Outcome[], file: TargetFile, issuePath: string[]): number[] {
  for (let len = issuePath.length; len >= 1; len--) {
    const p = issuePath.slice(0, len).join('.');
    const hits = outcomes
      .map((oc, i) => ((oc.set ?? []).some((t: Target) => t.file === file && (t.path === p || t.path.startsWith(`${p}.`) || (len === issuePath.length && p.startsWith(`${t.path}.`)))) ? i : -1))
      .filter((i) => i >= 0);
    if (hits.length) return hits;
  }
  return [];
}

export function parseLegacyConfig(text: string, format: 'auto' | 'shell' | 'ini' = 'auto') {
  return (format === 'auto' ? looksLikeIni(text) : format === 'ini') ? parseIniConfig(text) : parseShellConfig(text);
}

export function importLegacyConfig(text: string, source: string, format: 'auto' | 'shell' | 'ini' = 'auto', opts: { scheduler?: string | null } = {}): ImportResult {
  const parsed = parseLegacyConfig(text, format);
  const ctx = new MapContext(parsed.options, parsed.generation, source, opts.scheduler ?? null);
  const outcomes = parsed.options.map((o) => outcomeOf(o, ctx));
  for (let round = 0; round < parsed.options.length + 2; round++) {
    const built = build(outcomes);
    let progress = false;
    for (const file of ['hpc', 'hub'] as const) {
      const r = SCHEMA[file].safeParse(built[file]);
      if (r.success) continue;
      for (const issue of r.error.issues) {
        const reason = formatIssues(built[file], [issue])[0]!;
        for (const i of culprits(outcomes, file, issue.path.map(String))) {
          outcomes[i] = notMapped(`${FILE_NAME[file]} refuses it: ${reason}`);
          progress = true;
        }
      }
    }
    if (!progress) {
      const rows = parsed.options.map((o, i) => row(o, outcomes[i]!));
      const ignored = parsed.ignored.map((i) => (SECRET_TEXT.test(i.text) ? { ...i, text: '<not shown: it may hold a secret>' } : i));
      return { generation: parsed.generation, scheduler: ctx.scheduler, ...build(outcomes), rows, ignored };
    }
  }
  throw new Error('config import: the mapping did not settle (a bug: please report it with the input file)');
}

function row(o: LegacyOption, oc: Outcome): ReportRow {
  const shown = isSecretOption(o) ? '<not shown>' : o.raw;
  return { option: qualifiedName(o), line: o.line, shown, status: oc.status, targets: (oc.set ?? []).map((t) => `${FILE_NAME[t.file]} ${t.path}`), note: oc.note };
}
