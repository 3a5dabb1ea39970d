// `hpc-wrap capabilities` (contract/capabilities.ts): what this side accepts, read from
// hpc-wrap.yaml. The bridge caches it and refuses at its API what would fail here.
import type { Capabilities } from '../contract/capabilities.js';
import type { CommandContext } from './command-context.js';
import { HPC_WRAP_VERSION } from './self-check.js';

export function capabilities(ctx: CommandContext): Capabilities {
  const c = ctx.config;
  return {
    version: HPC_WRAP_VERSION,
    scheduler: c.scheduler.kind,
    identity: c.identity.mode,
    webdav: { enabled: c.webdav.enabled, clientUrl: c.webdav.enabled && c.webdav.allowedUrlPrefixes.length > 0 },
    environments: Object.keys(c.environments),
    defaultEnvironment: c.defaultEnvironment,
  };
}
