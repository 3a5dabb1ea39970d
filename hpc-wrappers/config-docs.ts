// `config check` prints the effective hpc-wrap.yaml (secrets redacted); `config docs` is
// config/docs.ts, the one generator for both files.
import { stringify } from 'yaml';
import { configDocs } from '../config/docs.js';
import { redact } from '../config/load-hpc-wrap.js';
import { hpcWrapSchema, type HpcWrapConfig } from '../config/schema-hpc-wrap.js';

export function hpcWrapConfigDocs(): string {
  return configDocs(hpcWrapSchema, 'hpc-wrap.yaml', ['Paths are relative to the config file. Commands are argv arrays, never shell strings.']);
}

export function configCheckText(cfg: HpcWrapConfig, source: string | null): string {
  return `# effective hpc-wrap configuration (source: ${source ?? 'embedded defaults'}); secrets redacted\n${stringify(redact(cfg))}`;
}
