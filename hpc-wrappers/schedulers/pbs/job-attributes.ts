// The three ways the PBS family prints `qstat -f`, read into one shape: a job id and its
// attributes, nested ones flattened (`Resource_List.ncpus`).
//   text  `qstat -f`          Torque, PBS Pro, OpenPBS, Slurm's qstat wrapper
//   json  `qstat -f -F json`  PBS Pro / OpenPBS 13+
//   xml   `qstat -f -x`       Torque (in PBS Pro, -x means "include finished jobs")
import { descendants, parseXml, type XmlElement } from '../shared/xml.js';

export interface PbsJob {
  id: string;
  attrs: Record<string, string>;
}

export type PbsFormat = 'text' | 'json' | 'xml';

/**
 * `Job Id: 123.server` then `    name = value` lines; a long value continues on lines
 * that do not look like `name = value` (PBS indents them with a tab).
 */
export function readPbsText(stdout: string): PbsJob[] {
  const jobs: PbsJob[] = [];
  let cur: PbsJob | null = null;
  let last: string | null = null;
  for (const line of stdout.split('\n')) {
    const head = /^Job Id:\s*(\S+)/.exec(line);
    if (head) {
      cur = { id: head[1]!, attrs: {} };
      jobs.push(cur);
      last = null;
      continue;
    }
    if (!cur || !line.trim()) continue;
    const kv = /^\s+([A-Za-z_][\w.]*) = ?(.*)$/.exec(line);
    if (kv) {
      last = kv[1]!;
      cur.attrs[last] = kv[2]!.trim();
    } else if (last && /^\s/.test(line)) {
      cur.attrs[last] += line.trim();
    }
  }
  return jobs;
}

function flatten(prefix: string, v: unknown, out: Record<string, string>): void {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) flatten(prefix ? `${prefix}.${k}` : k, x, out);
  } else if (v !== undefined && v !== null) {
    out[prefix] = Array.isArray(v) ? v.join(',') : String(v);
  }
}

/** `{"Jobs": {"123.server": {...}}}`; no "Jobs" key when there are none. Throws on invalid JSON. */
export function readPbsJson(stdout: string): PbsJob[] {
  if (!stdout.trim()) return [];
  const doc = JSON.parse(stdout) as { Jobs?: Record<string, unknown> };
  return Object.entries(doc.Jobs ?? {}).map(([id, v]) => {
    const attrs: Record<string, string> = {};
    flatten('', v, attrs);
    return { id, attrs };
  });
}

function flattenXml(prefix: string, el: XmlElement, out: Record<string, string>): void {
  for (const c of el.children) {
    const key = prefix ? `${prefix}.${c.name}` : c.name;
    if (c.children.length) flattenXml(key, c, out);
    else out[key] = c.text.trim();
  }
}

/** `<Data><Job><Job_Id>…</Job_Id>…</Job></Data>`. */
export function readPbsXml(stdout: string): PbsJob[] {
  return descendants(parseXml(stdout), 'Job').flatMap((job) => {
    const attrs: Record<string, string> = {};
    flattenXml('', job, attrs);
    const id = attrs.Job_Id;
    if (!id) return [];
    delete attrs.Job_Id;
    return [{ id, attrs }];
  });
}

export function readPbsJobs(stdout: string, format: PbsFormat): PbsJob[] {
  if (format === 'json') return readPbsJson(stdout);
  if (format === 'xml') return readPbsXml(stdout);
  return readPbsText(stdout);
}
