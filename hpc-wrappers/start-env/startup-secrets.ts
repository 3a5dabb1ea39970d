// Secrets used while starting (the WebDAV password, the tunnel's private key) must not
// reach the server: any variable whose value contains one is removed from its env just
// before it starts, whoever put it there (a hub env entry, a module, a container step).
import type { EnvironmentContext } from './steps.js';

/** Removes such variables from ctx.env; returns their names (never the values). */
export function scrubStartupSecrets(ctx: Pick<EnvironmentContext, 'env' | 'webdavCredentials' | 'tunnelPrivateKey'>): string[] {
  const secrets = [ctx.webdavCredentials?.password, ctx.tunnelPrivateKey].filter((s): s is string => typeof s === 'string' && s.length >= 4);
  if (!secrets.length) return [];
  const removed: string[] = [];
  for (const [k, v] of Object.entries(ctx.env)) {
    if (secrets.some((s) => v.includes(s))) {
      delete ctx.env[k];
      removed.push(k);
    }
  }
  return removed;
}
