// Whether a path could be created or written by this process, without creating anything:
// the path itself when it exists, else its nearest existing ancestor directory.
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname } from 'node:path';

export function writableOrCreatable(path: string): { ok: boolean; checked: string; error: string | null } {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  try {
    accessSync(p, constants.W_OK | (p === path ? 0 : constants.X_OK));
    return { ok: true, checked: p, error: null };
  } catch (err) {
    return { ok: false, checked: p, error: (err as Error).message };
  }
}
