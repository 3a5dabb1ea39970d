// `hpc-wrap config import FILE`: read a legacy config as text, convert it, print the
// report (every option with what became of it), validate the result with the loaders the
// programs use, and write it without silently replacing an existing file.
import { readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { commentedYaml } from '../../config/commented-yaml.js';
import { ConfigError, loadHpcWrapConfig, loadHubBridgeConfig } from '../../config/load.js';
import { hpcWrapSchema, hubBridgeSchema } from '../../config/schema.js';
import { chooseOutput, OutputRefused, writeConfigText } from '../wizard/output-file.js';
import { importLegacyConfig, type ImportResult, type ReportRow } from './import-config.js';
import { schedulerDefinition, schedulerKinds } from '../schedulers/registry.js';
import type { Status } from './map-context.js';

export interface ImportOptions {
  file: string;
  out: string | undefined;
  hubOut: string | undefined;
  format: 'auto' | 'shell' | 'ini';
  /** The scheduler kind when the file's commands do not tell (--scheduler). */
  scheduler?: string | null;
  json: boolean;
  force: boolean;
}

const ORDER: Status[] = ['mapped', 'changed', 'not needed', 'not mapped'];

export function formatReport(r: ImportResult, source: string): string {
  const out = [
    `${source}: the ${r.generation === 'ini' ? 'jh_config.ini (v1.1-1.3)' : 'jh_config (shell scripts)'} generation, ${r.rows.length} options`,
    `workload manager: ${r.scheduler.kind ? `${r.scheduler.kind} — ${r.scheduler.why}` : `cannot tell — ${r.scheduler.why}`}`,
  ];
  for (const status of ORDER) {
    const rows = r.rows.filter((x) => x.status === status);
    if (!rows.length) continue;
    out.push('', `${status} (${rows.length}):`);
    for (const x of rows) {
      const to = x.targets.length ? ` → ${[...new Set(x.targets)].join(', ')}` : '';
      out.push(`  line ${x.line}: ${x.option} = ${x.shown}${to}`);
      if (x.note) out.push(`      ${x.note}`);
    }
  }
  if (r.ignored.length) {
    out.push('', `ignored lines (${r.ignored.length}):`);
    for (const i of r.ignored) out.push(`  line ${i.line}: ${i.text.length > 70 ? `${i.text.slice(0, 70)}…` : i.text}`, `      ${i.why}`);
  }
  return `${out.join('\n')}\n`;
}

/** "# from jh_config cmd_run_job (line 20)" for the keys an option set. */
function origins(rows: ReportRow[], fileName: string, source: string): (path: string) => string | undefined {
  const byKey = new Map<string, string[]>();
  for (const x of rows) {
    for (const t of x.targets) {
      if (!t.startsWith(`${fileName} `)) continue;
      const key = t.slice(fileName.length + 1);
      byKey.set(key, [...(byKey.get(key) ?? []), `${x.option} (line ${x.line})`]);
    }
  }
  return (path) => (byKey.has(path) ? `from ${basename(source)}: ${[...new Set(byKey.get(path))].join(', ')}` : undefined);
}

function header(name: string, source: string, check: string): string[] {
  return [
    `${name}: imported from ${source} by \`hpc-wrap config import\` on ${new Date().toISOString().slice(0, 10)}.`,
    'Each key is preceded by its description; the import report lists what was changed or left out.',
    check,
  ];
}

export async function runImport(opts: ImportOptions, interactive: boolean): Promise<number> {
  const source = resolve(opts.file);
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (err) {
    process.stderr.write(`hpc-wrap config import: cannot read ${source}: ${(err as Error).message}\n`);
    return 2;
  }
  const result = importLegacyConfig(text, source, opts.format, { scheduler: opts.scheduler ?? null });
  if (!result.scheduler.kind) {
    // Without a kind, hpc-wrap.yaml would mean `fork`: notebooks on the login node. Write nothing.
    if (opts.json) process.stdout.write(`${JSON.stringify({ source, generation: result.generation, written: [], scheduler: result.scheduler, options: result.rows, ignored: result.ignored })}\n`);
    else process.stdout.write(formatReport(result, source));
    process.stderr.write(
      `hpc-wrap config import: cannot determine the workload manager: ${result.scheduler.why}. Nothing written. Pass --scheduler ${schedulerKinds().filter((k) => schedulerDefinition(k).batchSystem).join('|')} to say which one the commands belong to.\n`,
    );
    return 2;
  }
  const out = resolve(opts.out ?? 'hpc-wrap.yaml');
  const hubOut = resolve(opts.hubOut ?? join(dirname(out), 'hub-bridge.yaml'));
  const files = [
    { name: 'hpc-wrap.yaml', path: out, value: result.hpc, schema: hpcWrapSchema, load: loadHpcWrapConfig, check: `Check it: hpc-wrap --config ${out} config check` },
    { name: 'hub-bridge.yaml', path: hubOut, value: result.hub, schema: hubBridgeSchema, load: loadHubBridgeConfig, check: 'Copy it to the hub host (merge it into hub-bridge.yaml there); check it with hpc-bridge config check' },
  ];
  const written: string[] = [];
  try {
    const texts = files.map((f) => {
      const yaml = commentedYaml(f.schema, f.value, header(f.name, source, f.check), origins(result.rows, f.name, source));
      f.load(f.path, parse(yaml) ?? {}); // validated before anything is written
      return yaml;
    });
    for (const [i, f] of files.entries()) {
      if (f.name === 'hub-bridge.yaml' && !Object.keys(f.value).length) continue; // nothing for the hub
      const path = await chooseOutput(f.path, { interactive, force: opts.force });
      if (!path) continue;
      writeConfigText(path, path === f.path ? texts[i]! : texts[i]!.replace(f.path, path));
      written.push(path);
    }
  } catch (err) {
    if (!(err instanceof ConfigError || err instanceof OutputRefused)) throw err;
    process.stderr.write(`hpc-wrap config import: ${err.message}\n`);
    return 2;
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ source, generation: result.generation, written, scheduler: result.scheduler, options: result.rows, ignored: result.ignored })}\n`);
  } else {
    process.stdout.write(formatReport(result, source));
    process.stdout.write(`\n${written.length ? `Wrote ${written.join(' and ')}` : 'Nothing written.'}\n`);
    if (written.includes(out)) process.stdout.write(`Next: hpc-wrap --config ${out} config check; hpc-wrap --config ${out} doctor\n`);
  }
  return written.includes(out) ? 0 : 1;
}
