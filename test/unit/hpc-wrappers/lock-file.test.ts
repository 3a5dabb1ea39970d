// The one lock-file helper: exclusive create with the owner inside, "held" with who holds
// it, take-over of a stale lock (the file then names the new owner), release only by its
// owner. (Real concurrent takers: overlay-concurrency.test.ts and the idempotent startjob test.)
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJsonOwner, releaseLockFile, tryLockFile } from '../../../hpc-wrappers/lock-file.js';
import { tempDir } from './support/hpc-wrap-bundle.js';

type Owner = { name: string };
const readOwner = (f: string) => readJsonOwner(f, (v): v is Owner => typeof (v as Owner)?.name === 'string');

describe('lock files', () => {
  it('is taken once, reports its holder, and is released only by its owner', () => {
    const file = join(tempDir(), 'x.lock');
    expect(tryLockFile<Owner>(file, { owner: { name: 'a' }, readOwner, isStale: () => false })).toEqual({ kind: 'acquired' });
    expect(tryLockFile<Owner>(file, { owner: { name: 'b' }, readOwner, isStale: () => false })).toEqual({ kind: 'held', owner: { name: 'a' } });
    releaseLockFile(file, readOwner, (o) => o.name === 'b');
    expect(readOwner(file)).toEqual({ name: 'a' });
    releaseLockFile(file, readOwner, (o) => o.name === 'a');
    expect(readOwner(file)).toBeNull();
  });

  it('takes over a stale lock, judged by its owner record or its age', () => {
    const file = join(tempDir(), 'x.lock');
    writeFileSync(file, JSON.stringify({ name: 'dead' }));
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(file, old, old);
    const byAge = tryLockFile<Owner>(file, { owner: { name: 'c' }, readOwner, isStale: (_o, mtime) => Date.now() - mtime > 60_000 });
    expect(byAge).toEqual({ kind: 'acquired' });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ name: 'c' });
    const byOwner = tryLockFile<Owner>(file, { owner: { name: 'd' }, readOwner, isStale: (o) => o?.name === 'c' });
    expect(byOwner).toEqual({ kind: 'acquired' });
    expect(readOwner(file)).toEqual({ name: 'd' });
  });

  it('treats an unreadable lock as held unless the caller says otherwise', () => {
    const file = join(tempDir(), 'x.lock');
    writeFileSync(file, '{"na');
    expect(tryLockFile<Owner>(file, { owner: { name: 'e' }, readOwner, isStale: (o) => o !== null })).toEqual({ kind: 'held', owner: null });
  });
});
