// Environment changes computed by helper programs (Lmod, conda) and how they reach the
// server. The helpers never see the hub's env: they run with the server's environment
// minus the hub's variables (the API token …), so their output is relative to the job's
// own values. A path-like variable the hub had overridden (e.g. PATH) is then rebased:
// what the helper prepended/appended goes around the server's value, not the job's.
import type { EnvironmentContext } from './steps.js';

/** A variable set (value) or unset (null). */
export interface EnvChange {
  name: string;
  value: string | null;
}

/** Variables only the hub and hpc-wrap may set; a module or conda env cannot change them. */
const RESERVED = /^(JUPYTERHUB_|JPY_|HPC_WRAP_)/;

/** The environment for helper processes: the server's env without anything from the hub. */
export function helperEnv(ctx: Pick<EnvironmentContext, 'env' | 'hubEnv'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.env)) {
    if (RESERVED.test(k)) continue;
    if (Object.hasOwn(ctx.hubEnv, k) && ctx.hubEnv[k] === v) {
      // The hub's value, untouched by any step: the helper sees the job's own value instead.
      const own = process.env[k];
      if (own !== undefined) out[k] = own;
      continue;
    }
    out[k] = v;
  }
  return out;
}

/**
 * `value` was computed from `helperOld`; redo the same edit on `serverOld`. For a list such
 * as PATH the entries the helper added before / after the old ones go before / after the
 * server's, and entries it dropped are dropped (Lmod also removes duplicate entries, so
 * the new value need not contain the old one verbatim).
 */
function rebase(value: string, helperOld: string | undefined, serverOld: string | undefined): string {
  if (!helperOld || serverOld === undefined || serverOld === helperOld) return value;
  const entries = value.split(':');
  const old = new Set(helperOld.split(':'));
  const firstOld = entries.findIndex((e) => old.has(e));
  if (firstOld < 0) return value; // not an edit of the old value: a new value
  const front = entries.slice(0, firstOld).filter((e) => !old.has(e));
  const back = entries.slice(firstOld).filter((e) => !old.has(e));
  const kept = new Set(entries);
  const added = new Set([...front, ...back]);
  const server = serverOld.split(':').filter((e) => !added.has(e) && !(old.has(e) && !kept.has(e)));
  return [...front, ...server, ...back].join(':');
}

/**
 * Applies a helper's changes to the server's env. `base` is the env the helper ran with.
 * Returns the names that were refused (reserved for the hub / hpc-wrap, or a value with NUL).
 */
export function applyEnvChanges(ctx: Pick<EnvironmentContext, 'env'>, base: Record<string, string>, changes: readonly EnvChange[]): string[] {
  const refused: string[] = [];
  for (const c of changes) {
    // Reserved names, and values no process environment can hold (NUL).
    if (RESERVED.test(c.name) || c.value?.includes('\0')) {
      refused.push(c.name);
      continue;
    }
    if (c.value === null) delete ctx.env[c.name];
    else ctx.env[c.name] = rebase(c.value, base[c.name], ctx.env[c.name]);
  }
  return refused;
}
