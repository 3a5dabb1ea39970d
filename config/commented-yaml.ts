// Renders a config object as YAML with every key preceded by its schema description as a
// comment, so a generated file (wizard, legacy import) documents itself without a second
// copy of the descriptions. Descriptions come from z.toJSONSchema, like `config docs`.
import { Document, isMap, isScalar, isSeq, type Node, type Pair } from 'yaml';
import { z } from 'zod';

interface JsonSchema {
  description?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  const?: unknown;
}

type Path = readonly (string | number)[];

/** The JSON schema of a value at one step down from `s`, choosing the union member that fits `value`. */
function child(s: JsonSchema, key: string | number, value: unknown): JsonSchema | undefined {
  if (typeof key === 'number') return s.items;
  const direct = s.properties?.[key];
  if (direct) return direct;
  const variants = (s.anyOf ?? s.oneOf ?? []).filter((v) => v.properties || typeof v.additionalProperties === 'object');
  const kind = value && typeof value === 'object' ? (value as Record<string, unknown>).kind : undefined;
  const fitting = variants.find((v) => v.properties?.kind?.const === kind && v.properties?.[key]) ?? variants.find((v) => v.properties?.[key]);
  if (fitting?.properties?.[key]) return fitting.properties[key];
  if (typeof s.additionalProperties === 'object') return s.additionalProperties;
  const named = variants.find((v) => typeof v.additionalProperties === 'object');
  return named ? (named.additionalProperties as JsonSchema) : undefined;
}

export class SchemaDescriber {
  private readonly root: JsonSchema;

  constructor(schema: z.ZodType) {
    this.root = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  }

  get title(): string {
    return this.root.description ?? '';
  }

  /** The JSON schema of the key at `path` (`values` picks union members, e.g. scheduler.kind). */
  node(path: Path, values: unknown = undefined): JsonSchema | undefined {
    let s: JsonSchema | undefined = this.root;
    let v: unknown = values;
    for (const key of path) {
      if (!s) return undefined;
      s = child(s, key, v);
      v = v && typeof v === 'object' ? (v as Record<string | number, unknown>)[key] : undefined;
    }
    return s;
  }

  /** The description of the key at `path`. */
  describe(path: Path, values: unknown = undefined): string | undefined {
    const s = this.node(path, values);
    return s?.description ?? (s?.anyOf ?? s?.oneOf)?.find((x) => x.description)?.description;
  }

  /** A copy of `value` with the keys of every section in the schema's order (unknown keys last). */
  sorted(value: unknown, path: (string | number)[] = [], root: unknown = value): unknown {
    if (Array.isArray(value)) return value.map((v, i) => this.sorted(v, [...path, i], root));
    if (!value || typeof value !== 'object') return value;
    const s = path.length ? this.node(path, root) : this.root;
    const props = s?.properties ?? (s?.anyOf ?? s?.oneOf)?.find((x) => x.properties)?.properties ?? {};
    const order = Object.keys(props);
    const rank = (k: string) => (order.includes(k) ? order.indexOf(k) : order.length);
    const keys = Object.keys(value).sort((a, b) => rank(a) - rank(b));
    return Object.fromEntries(keys.map((k) => [k, this.sorted((value as Record<string, unknown>)[k], [...path, k], root)]));
  }

  /** True when the schema knows `path` (a guard for mapping tables). */
  has(path: Path): boolean {
    return this.describe(path) !== undefined;
  }
}

function wrap(text: string, width = 96): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}

type Origin = (dottedPath: string) => string | undefined;

function annotate(node: Node | null, path: (string | number)[], describer: SchemaDescriber, root: unknown, origin?: Origin): void {
  if (isMap(node)) {
    node.items.forEach((pair: Pair, i) => {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const keyPath = [...path, key];
      const desc = describer.describe(keyPath, root);
      const from = origin?.(keyPath.join('.'));
      if ((desc || from) && isScalar(pair.key)) {
        pair.key.commentBefore = [...wrap(desc ?? ''), ...(from ? [from] : [])].map((l) => ` ${l}`).join('\n');
        if (path.length === 0 && i > 0) pair.key.spaceBefore = true;
      }
      annotate(pair.value as Node | null, keyPath, describer, root, origin);
    });
  } else if (isSeq(node)) {
    const scalarsOnly = node.items.every((item) => isScalar(item));
    if (scalarsOnly) node.flow = true;
    node.items.forEach((item, i) => annotate(item as Node | null, [...path, i], describer, root, origin));
  }
}

/**
 * YAML text of `value` with `header` lines on top and each key's description above it;
 * `origin` may add a line saying where a key's value came from.
 */
export function commentedYaml(schema: z.ZodType, value: Record<string, unknown>, header: string[], origin?: Origin): string {
  const describer = new SchemaDescriber(schema);
  const doc = new Document(describer.sorted(value));
  annotate(doc.contents as Node | null, [], describer, value, origin);
  doc.commentBefore = header.map((l) => ` ${l}`).join('\n');
  return doc.toString({ lineWidth: 0 });
}
