// Reading the end of a log backwards across chunk boundaries, and following appends.
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { followLines, lastLines } from '../../../hpc-wrappers/logs/log-lines.js';
import { tempDir } from './support/hpc-wrap-bundle.js';

describe('lastLines', () => {
  const file = join(tempDir(), 'big.log');
  // ~300 KB: several 64 KiB chunks, lines of varying length (one longer than a chunk).
  const lines = Array.from({ length: 6000 }, (_, i) => (i === 3000 ? `line ${i} ${'x'.repeat(70_000)}` : `line ${i} ${'é'.repeat(i % 37)}`));
  writeFileSync(file, `${lines.join('\n')}\n`);

  it('returns the last N lines intact, across chunk boundaries and multi-byte characters', () => {
    expect(lastLines(file, 4000).lines).toEqual(lines.slice(2000));
    expect(lastLines(file, 10_000).lines).toEqual(lines);
  });

  it('counts only the lines the filter keeps', () => {
    const r = lastLines(file, 3, (l) => l.startsWith('line 1'));
    expect(r.lines).toEqual(['line 1997 ' + 'é'.repeat(1997 % 37), 'line 1998 ' + 'é'.repeat(1998 % 37), 'line 1999 ' + 'é'.repeat(1999 % 37)]);
  });

  it('leaves an unfinished last line to the follower, which prints it once complete', async () => {
    const f = join(tempDir(), 'partial.log');
    writeFileSync(f, 'one\ntwo\nthr');
    expect(lastLines(f, 5).lines).toEqual(['one', 'two', 'thr']);
    const start = lastLines(f, 5, () => true, true);
    expect(start.lines).toEqual(['one', 'two']);
    const seen: string[] = [];
    const stop = new AbortController();
    const done = followLines(f, { from: start.end, intervalMs: 20, signal: stop.signal, onLine: (l) => seen.push(l) });
    appendFileSync(f, 'ee\nfour\n');
    await new Promise((r) => setTimeout(r, 150));
    writeFileSync(f, 'after truncation\n'); // logrotate copytruncate
    await new Promise((r) => setTimeout(r, 150));
    stop.abort();
    await done;
    expect(seen).toEqual(['three', 'four', 'after truncation']);
  });
});
