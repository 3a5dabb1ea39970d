// Reference documentation of a config file, generated from the schema's descriptions.
import { z } from 'zod';

interface JsonSchema {
  description?: string;
  default?: unknown;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
}

function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((e) => JSON.stringify(e)).join(' | ');
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map(typeOf).join(' | ');
  if (s.type === 'array' && s.items) return `${typeOf(s.items)}[]`;
  return Array.isArray(s.type) ? s.type.join(' | ') : (s.type ?? 'any');
}

function walk(s: JsonSchema, path: string, out: string[]): void {
  const alts = s.anyOf ?? s.oneOf;
  if (s.properties) {
    if (path) out.push(`${path}  (${s.description ?? 'section'})`);
    for (const [k, v] of Object.entries(s.properties)) walk(v, path ? `${path}.${k}` : k, out);
    return;
  }
  if (alts && alts.some((a) => a.properties)) {
    out.push(`${path}  (${s.description ?? 'one of several forms'})`);
    for (const a of alts) walk(a, path, out);
    return;
  }
  const def = s.default !== undefined ? `  [default: ${JSON.stringify(s.default)}]` : '';
  out.push(`${path}: ${typeOf(s)}${def}\n    ${s.description ?? ''}`);
}

export function configDocs(schema: z.ZodType, title: string): string {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out: string[] = [`# ${title}`, json.description ?? '', ''];
  walk(json, '', out);
  return out.join('\n') + '\n';
}
