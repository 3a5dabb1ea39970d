// The two programs meet only in contract/ (and the shared config/): neither side imports
// the other, and each wire type of docs/contracts.md is defined once, in contract/.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.(ts|mjs)$/.test(name)) out.push(p);
  }
  return out;
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => resolve(join(file, '..'), m[1]!));
}

describe('boundaries between hpc-bridge and hpc-wrap', () => {
  it.each([
    ['hub-bridge', 'hpc-wrappers'],
    ['hpc-wrappers', 'hub-bridge'],
    ['contract', 'hub-bridge'],
    ['contract', 'hpc-wrappers'],
  ])('nothing in %s/ imports from %s/', (from, to) => {
    const offending = sources(join(ROOT, from)).flatMap((f) =>
      imports(f)
        .filter((target) => relative(join(ROOT, to), target).split('/')[0] !== '..')
        .map((target) => `${relative(ROOT, f)} → ${relative(ROOT, target)}`),
    );
    expect(offending).toEqual([]);
  });

  it('each wire type is declared once, in contract/', () => {
    const names = ['JobState', 'JobReport', 'JobStateReport', 'ServerStatus', 'StartJobRequest', 'StartJobResult', 'TunnelSpec', 'ErrorCode', 'AccountingRecord', 'AccountingReport'];
    const all = [...sources(join(ROOT, 'hub-bridge')), ...sources(join(ROOT, 'hpc-wrappers')), ...sources(join(ROOT, 'contract')), ...sources(join(ROOT, 'config'))];
    for (const name of names) {
      const declared = all.filter((f) => new RegExp(`^export (type|interface) ${name}\\b(?! *=.*from)`, 'm').test(readFileSync(f, 'utf8')));
      expect(declared.map((f) => relative(ROOT, f)), name).toEqual(declared.length === 1 ? [declared[0] && relative(ROOT, declared[0])] : ['(exactly one file under contract/)']);
      expect(relative(ROOT, declared[0]!).startsWith('contract/'), name).toBe(true);
    }
  });
});
