// Reference documentation of a config file (`hpc-bridge config docs`, `hpc-wrap config
// docs`): every key with its type, limits, default and description, generated from the
// zod schema (z.toJSONSchema), so the docs cannot drift from it. The one generator for
// both files; the per-kind settings of `scheduler:` come out under "when scheduler.kind is …".
import { z } from 'zod';

type JsonSchema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  const?: unknown;
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  minItems?: number;
  required?: string[];
};

function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  const variants = s.anyOf ?? s.oneOf;
  if (variants) return variants.map(typeOf).join(' | ');
  let t = Array.isArray(s.type) ? s.type.join(' | ') : (s.type ?? 'any');
  if (t === 'array' && s.items) t = `list of ${typeOf(s.items)}`;
  if (t === 'object' && !s.properties) t = 'map';
  const limits: string[] = [];
  if (s.minimum !== undefined || s.maximum !== undefined) limits.push(`${s.minimum ?? ''}..${s.maximum ?? ''}`);
  if (s.pattern) limits.push(`matching ${s.pattern}`);
  return limits.length ? `${t} (${limits.join(', ')})` : t;
}

function isObject(s: JsonSchema): boolean {
  return Boolean(s.properties);
}

function walk(s: JsonSchema, path: string, depth: number, out: string[]): void {
  const pad = '  '.repeat(depth);
  const variants = s.oneOf ?? s.anyOf;
  const objectVariants = variants?.filter(isObject) ?? [];
  const leaf = !isObject(s) && objectVariants.length === 0;
  if (path) {
    let line = `${pad}${path}: ${leaf ? typeOf(s) : 'section'}`;
    if (s.default !== undefined && !(isObject(s) && JSON.stringify(s.default) === '{}')) line += `  [default: ${JSON.stringify(s.default)}]`;
    out.push(line);
    const desc = s.description ?? variants?.find((v) => v.description)?.description;
    if (desc) out.push(`${pad}    ${desc}`);
  }
  if (s.properties) {
    for (const [k, v] of Object.entries(s.properties)) walk(v, path ? `${path}.${k}` : k, path ? depth + 1 : depth, out);
  }
  for (const v of objectVariants) {
    const kind = v.properties?.kind?.const;
    if (kind === undefined) {
      // A nullable section (e.g. environments.<name>.container): its keys, one level down.
      for (const [k, p] of Object.entries(v.properties ?? {})) walk(p, `${path}.${k}`, depth + 1, out);
      continue;
    }
    out.push(`${pad}  -- when ${path}.kind is ${JSON.stringify(kind)}:`);
    for (const [k, p] of Object.entries(v.properties ?? {})) walk(p, `${path}.${k}`, depth + 2, out);
  }
  // A map of named sections (environments.<name>) and a list of sections (extraBinds[]).
  const named = typeof s.additionalProperties === 'object' ? s.additionalProperties : null;
  if (named?.properties) for (const [k, p] of Object.entries(named.properties)) walk(p, `${path}.<name>.${k}`, depth + 1, out);
  if (s.items?.properties) for (const [k, p] of Object.entries(s.items.properties)) walk(p, `${path}[].${k}`, depth + 1, out);
}

/** The reference of one config file. `notes` follow the title (how paths and commands are read). */
export function configDocs(schema: z.ZodType, fileName: string, notes: readonly string[] = []): string {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out: string[] = [`# ${fileName} — every key (generated from config/schema.ts)`, `# ${json.description ?? ''}`, ...notes.map((n) => `# ${n}`), ''];
  walk(json, '', 0, out);
  return `${out.join('\n')}\n`;
}
