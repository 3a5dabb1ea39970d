// Loads hub-bridge.yaml (and, re-exported, everything of load-hpc-wrap.ts: hpc-wrap.yaml's
// loader, ConfigError, the problem formatting, redaction).
import { dirname, resolve } from 'node:path';
import { abs, parseWith, readYaml } from './load-hpc-wrap.js';
import { hubBridgeSchema, type HubBridgeConfig } from './schema.js';

export { abs, ConfigError, formatIssues, loadHpcWrapConfig, parseWith, readYaml, redact } from './load-hpc-wrap.js';

/** Paths in a config file are relative to the file; without a file, to the current directory. */
export function loadHubBridgeConfig(file: string | null, overrides: unknown = undefined): HubBridgeConfig {
  const raw = overrides ?? (file ? readYaml(file) : {});
  const cfg = parseWith(hubBridgeSchema, raw, file ?? 'hub-bridge.yaml (embedded defaults)');
  const base = file ? dirname(resolve(file)) : process.cwd();
  return {
    ...cfg,
    apiTokenFile: abs(base, cfg.apiTokenFile),
    stateDb: abs(base, cfg.stateDb),
    metrics: { ...cfg.metrics, tokenFile: abs(base, cfg.metrics.tokenFile) },
    hubService: { ...cfg.hubService, apiTokenFile: abs(base, cfg.hubService.apiTokenFile) },
    tunnel: { ...cfg.tunnel, hostKeyFile: abs(base, cfg.tunnel.hostKeyFile) },
  };
}

