// hpc-wrap never expands shell variables in its config: a `$JUPYTERHUB_USER` or `${HOME}`
// in a path or command would be used literally (the old jh_config scripts expanded them at
// run time; an import or a copy-paste can bring them over). The config schema refuses them
// everywhere except in free text and in environment variable values.

/** Keys whose values are prose or a process environment, where `$` means itself. */
const FREE_TEXT_KEYS = new Set(['message', 'description', 'displayName', 'env']);

const VARIABLE = /\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)/;

export interface UnexpandedVariable {
  path: (string | number)[];
  variable: string;
}

/** Every string in `value` (outside FREE_TEXT_KEYS) that holds a `$NAME` / `${NAME}`. */
export function unexpandedVariables(value: unknown, path: (string | number)[] = []): UnexpandedVariable[] {
  if (typeof value === 'string') {
    const m = VARIABLE.exec(value);
    return m ? [{ path, variable: `$${m[1]}` }] : [];
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => unexpandedVariables(v, [...path, i]));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => (FREE_TEXT_KEYS.has(k) ? [] : unexpandedVariables(v, [...path, k])));
  }
  return [];
}

export function unexpandedVariableMessage(variable: string): string {
  return `holds ${variable}, which hpc-wrap never expands (it would be used literally): write the value out; for per-user paths use {home} (the per-user home) or {user} where the key allows them`;
}
