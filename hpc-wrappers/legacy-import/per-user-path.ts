// The old scripts built per-user paths at run time from $JUPYTERHUB_USER
// (`user_home_dir=$home_dir/$JUPYTERHUB_USER/`). hpc-wrap's own per-user placeholder is
// {home} (<homes.root>/<escaped user>, made by hpc-wrap): a legacy path below
// <home_dir>/$JUPYTERHUB_USER becomes {home}/...; every other use of the variable stays
// unmapped (runtimeOnly says why), never written literally.
import type { MapContext } from './map-context.js';
import { trimSlash } from './map-context.js';

const USER_VARIABLE = /\$\{JUPYTERHUB_USER\}|\$JUPYTERHUB_USER\b/g;

/** `{home}/rest` for a path below the old per-user home, else null. */
export function perUserHomePath(value: string, ctx: MapContext): string | null {
  const home = ctx.value('home_dir')?.trim();
  if (!home || home.includes('$')) return null;
  // One spelling of the variable, no doubled slashes ("$scratch_dir/" + "/x" in the old files).
  const v = trimSlash(value.trim().replace(USER_VARIABLE, '$JUPYTERHUB_USER'));
  const prefix = `${trimSlash(home)}/$JUPYTERHUB_USER/`;
  if (!v.startsWith(prefix)) return null;
  const rest = v.slice(prefix.length);
  if (!rest || rest.includes('$')) return null;
  return `{home}/${rest}`;
}
