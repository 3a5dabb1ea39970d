// Answers → the two config objects (hpc-wrap.yaml, and hub-bridge.yaml for the hub host),
// the schema's verdict on one answer, and the commented, validated YAML text of both.
import { parse } from 'yaml';
import type { z } from 'zod';
import { commentedYaml } from '../../config/commented-yaml.js';
import { formatIssues, loadHpcWrapConfig, loadHubBridgeConfig } from '../../config/load.js';
import { hpcWrapSchema, hubBridgeSchema } from '../../config/schema.js';
import type { Answers, ConfigFile, Question } from './questions.js';

export type ConfigObject = Record<string, unknown>;
export interface WizardConfigs {
  hpc: ConfigObject;
  hub: ConfigObject;
}

export const SCHEMAS: Record<ConfigFile, z.ZodType> = { hpc: hpcWrapSchema, hub: hubBridgeSchema };
export const FILE_NAMES: Record<ConfigFile, string> = { hpc: 'hpc-wrap.yaml', hub: 'hub-bridge.yaml' };

export function setPath(obj: ConfigObject, path: readonly string[], value: unknown): void {
  let cur = obj;
  path.slice(0, -1).forEach((k) => {
    if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = {};
    cur = cur[k] as ConfigObject;
  });
  cur[path[path.length - 1]!] = value;
}

export function asked(q: Question, a: Answers): boolean {
  return !q.when || q.when(a);
}

/** The environment of a profile with its own modules: the profile's name ("default" is the wizard's base environment). */
const profileEnvironment = (profile: string) => (profile === 'default' ? 'default.profile' : profile);

/**
 * Every answered, non-derived question written at its key; the environment gets a name, and
 * the profiles name it. A profile with "+MODULE"s gets its own environment: the base one
 * (container, modules) plus its modules.
 */
export function buildConfigs(questions: readonly Question[], a: Answers): WizardConfigs {
  const out: WizardConfigs = { hpc: {}, hub: {} };
  for (const q of questions) {
    if (q.derived || !asked(q, a) || a[q.id] === undefined) continue;
    setPath(out[q.file], q.key.split('.'), a[q.id]);
  }
  const base = (out.hpc.environments as Record<string, ConfigObject> | undefined)?.default;
  const envs: Record<string, ConfigObject> = {};
  if (base) {
    envs.default = { description: 'Made by hpc-wrap wizard', ...base };
    out.hpc.defaultEnvironment = 'default';
  }
  if (Array.isArray(out.hub.profiles)) {
    // Each profile names the environment it runs in, so both files say the same thing.
    out.hub.profiles = (out.hub.profiles as (ConfigObject & { name: string; modules?: string[] })[]).map(({ modules, ...p }) => {
      if (!modules?.length) return base ? { ...p, environment: 'default' } : p;
      const name = profileEnvironment(p.name);
      const baseModules = (envs.default?.modules as ConfigObject | undefined) ?? {};
      const load = [...new Set([...((baseModules.load as string[] | undefined) ?? []), ...modules])];
      envs[name] = { ...envs.default, description: `Made by hpc-wrap wizard for profile ${p.name}`, modules: { ...baseModules, load } };
      return { ...p, environment: name };
    });
  }
  if (Object.keys(envs).length) out.hpc.environments = envs;
  return out;
}

/** What the schema says about the key of `q` given the answers so far, or null. */
export function schemaIssue(questions: readonly Question[], q: Question, a: Answers): string | null {
  if (q.derived) return null;
  const raw = buildConfigs(questions, a)[q.file];
  const result = SCHEMAS[q.file].safeParse(raw);
  if (result.success) return null;
  const mine = result.error.issues.filter((i) => i.path.map(String).join('.').startsWith(q.key));
  return mine.length ? formatIssues(raw, mine).join('; ') : null;
}

export function headerLines(file: ConfigFile, outPath: string): string[] {
  const made = `written by \`hpc-wrap wizard\` on ${new Date().toISOString().slice(0, 10)}; each key is preceded by its description.`;
  if (file === 'hpc') {
    return [`hpc-wrap.yaml: the HPC side, ${made}`, 'Every other key and its default: hpc-wrap config docs', `Check it: hpc-wrap --config ${outPath} config check`];
  }
  return [
    `hub-bridge.yaml: the hub side, ${made}`,
    'Copy it to the hub host (merge it into an existing hub-bridge.yaml); every key: hpc-bridge config docs',
    `Check it there: hpc-bridge --config ${outPath} config check`,
  ];
}

/** The commented YAML of one file, validated by the loader the programs use (throws ConfigError). */
export function renderValidated(file: ConfigFile, value: ConfigObject, outPath: string): string {
  const text = commentedYaml(SCHEMAS[file], value, headerLines(file, outPath));
  const reread: unknown = parse(text) ?? {};
  if (file === 'hpc') loadHpcWrapConfig(outPath, reread);
  else loadHubBridgeConfig(outPath, reread);
  return text;
}
