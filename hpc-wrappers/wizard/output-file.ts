// Writing a generated config file: never over an existing file without a yes (or --force).
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { writeFileAtomic } from '../json-files.js';

export class OutputRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputRefused';
  }
}

/** Where to write `path`: itself when new (or forced), else what the operator says (null = nothing). */
export async function chooseOutput(path: string, opts: { interactive: boolean; force: boolean }): Promise<string | null> {
  let p: string | null = resolve(path);
  while (p && existsSync(p) && !opts.force) {
    if (!opts.interactive) throw new OutputRefused(`${p} exists; pass --force to replace it, or choose another file (--out / --hub-out)`);
    const { confirmOverwrite } = await import('./interactive.js');
    const answer = await confirmOverwrite(p);
    if (answer === p) return p;
    p = answer === null ? null : resolve(answer);
  }
  return p;
}

/** Writes a config (not secret: 0644) atomically, making its directory if needed. */
export function writeConfigText(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, text, 0o644);
}
