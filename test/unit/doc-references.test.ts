// Every document the code or the docs point to exists: `docs/<name>.md`, `hpc-wrappers/README.md`,
// a markdown link to a file of the repository. References to documents of other projects
// and of the brief (outside this repository) are written so that they name their owner.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SKIP_DIRS = new Set(['node_modules', 'dist', '.git', '.state']);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return SKIP_DIRS.has(name) ? [] : files(p);
    return /\.(ts|mjs|md|py|yaml|yml|def)$/.test(name) || name === 'run' ? [p] : [];
  });
}

/** Outside this repository: the brief (`../shared/brief/…`, its file names), other projects' docs. */
function external(ref: string, line: string): boolean {
  if (ref.startsWith('../shared/') || ref.startsWith('shared/brief/')) return true;
  if (/^(test-environment|engineering|style|mission|architecture)\.md$/.test(ref) && /brief/i.test(line)) return true;
  // e.g. "JHub-HPC-Interface's docs/jh_config.md", "upstream docs/x.md", an http(s) link
  return /JHub-HPC-Interface|upstream|https?:\/\/\S*$/.test(line.slice(0, line.indexOf(ref)));
}

describe('documents and test files referred to', () => {
  const all = files(ROOT);
  const basenames = new Set(all.map((f) => f.split('/').pop()));

  it('exist, for every reference in code, configs and docs', () => {
    const missing: string[] = [];
    for (const file of all) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        for (const m of line.matchAll(/(?<![\w@/.-])((?:\.\.?\/)?(?:[\w.-]+\/)*[\w.-]+\.md)\b/g)) {
          const ref = m[1]!;
          if (external(ref, line)) continue;
          const candidates = [resolve(dirname(file), ref), resolve(ROOT, ref)];
          if (!candidates.some((c) => existsSync(c))) missing.push(`${relative(ROOT, file)}:${i + 1}: ${ref}`);
        }
        // a test named by its file name (`overlay-concurrency.test.ts`) exists somewhere
        for (const m of line.matchAll(/(?<![\w/.-])([\w-]+\.test\.ts)\b/g)) {
          if (!basenames.has(m[1]!)) missing.push(`${relative(ROOT, file)}:${i + 1}: ${m[1]}`);
        }
      });
    }
    expect(missing).toEqual([]);
  });
});
