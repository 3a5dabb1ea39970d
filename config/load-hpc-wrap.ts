// Loads a YAML config file, validates it with the schema and reports every problem with
// the file, the key path, the value given and what is allowed. hpc-wrap.yaml's loader and
// the shared parts; load.ts adds hub-bridge.yaml's (so hpc-wrap builds only its own schema).
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { resolveContainerPaths } from './schema-container.js';
import { REMOVED_TUNNEL_KEYS } from './removed-keys.js';
import { hpcWrapSchema, type HpcWrapConfig } from './schema-hpc-wrap.js';
import { ConfigError } from './config-error.js';

export { ConfigError };

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function showValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

export function formatIssues(raw: unknown, issues: z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const key = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
    if (issue.code === 'unrecognized_keys') {
      const removed = key === 'tunnel' ? issue.keys.filter((k) => REMOVED_TUNNEL_KEYS[k]) : [];
      if (removed.length) return `${key}: ${removed.map((k) => `${k} was ${REMOVED_TUNNEL_KEYS[k]}`).join('; ')} (docs/tunnel.md)`;
      return `${key}: unknown key(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} (check the spelling; \`config docs\` lists every key)`;
    }
    const given = issue.path.length ? showValue(valueAt(raw, issue.path)) : 'the document';
    return `${key}: got ${given}; ${issue.message}`;
  });
}

export function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as Error).message}`]);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) throw new ConfigError(file, doc.errors.map((e) => `YAML syntax: ${e.message}`));
  return doc.toJS() ?? {};
}

export function parseWith<S extends z.ZodType>(schema: S, raw: unknown, file: string): z.infer<S> {
  const result = schema.safeParse(raw);
  if (!result.success) throw new ConfigError(file, formatIssues(raw, result.error.issues));
  return result.data;
}

export const abs = (base: string, p: string) => (isAbsolute(p) ? p : resolve(base, p));

/** Paths in a config file are relative to the file; without a file, to the current directory. */
export function loadHpcWrapConfig(file: string | null, overrides: unknown = undefined): HpcWrapConfig {
  const raw = overrides ?? (file ? readYaml(file) : {});
  const cfg = parseWith(hpcWrapSchema, raw, file ?? 'hpc-wrap.yaml (embedded defaults)');
  const base = file ? dirname(resolve(file)) : process.cwd();
  const workDir = abs(base, cfg.workDir);
  return {
    ...cfg,
    workDir,
    homes: { ...cfg.homes, root: abs(base, cfg.homes.root ?? resolve(workDir, 'homes')) },
    logging: { ...cfg.logging, file: abs(base, cfg.logging.file ?? resolve(workDir, 'log', 'hpc-wrap.log')) },
    environments: Object.fromEntries(
      Object.entries(cfg.environments).map(([name, env]) => [name, env.container ? { ...env, container: resolveContainerPaths(env.container, base) } : env]),
    ),
  };
}

const SECRET_KEY = /token|password|secret|passwd|privateKey/i;

/** A copy of a config for printing: values of secret-looking keys are replaced. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) && !/File$/.test(k) && typeof v === 'string' ? '<redacted>' : redact(v)]),
    );
  }
  return value;
}
