// Overlay images with the real e2fsprogs (mkfs.ext3, e2fsck, debugfs; .ci/run installs
// e2fsprogs): made sparse on first use with upper/ and work/, checked before use, a
// damaged one moved aside and made again, a failed mkfs leaves nothing behind; the lease
// that keeps two sessions of one user off one image.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOverlayImage, corruptName, createOverlayImage, ensureOverlayImage } from '../../../hpc-wrappers/overlay/overlay-image.js';
import { readLeaseOwner, tryAcquireLease } from '../../../hpc-wrappers/overlay/overlay-lease.js';
import { fsckStatus, hasE2fsprogs, rootListing } from './support/e2fs.js';
import { tempDir } from './support/hpc-wrap-bundle.js';

let dir: string;
const opts = { sizeMiB: 64, mkfs: ['mkfs.ext3'], fsck: ['e2fsck'], repair: true };

beforeAll(() => {
  if (!hasE2fsprogs()) throw new Error('these tests need e2fsprogs (mkfs.ext3, e2fsck, debugfs): apt-get install e2fsprogs');
  dir = tempDir('overlay-image-');
});

/** Overwrites the primary superblock region (bytes 1024..5119) with garbage. */
function smashSuperblock(image: string): void {
  const fd = openSync(image, 'r+');
  try {
    writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, 1024);
  } finally {
    closeSync(fd);
  }
}

describe('overlay images (real e2fsprogs)', () => {
  it('a first use makes a sparse ext3 image, 0600, that e2fsck -n passes, with upper/ and work/ owned by the user', async () => {
    const image = join(dir, 'alice.img');
    expect(await ensureOverlayImage(image, { ...opts, sizeMiB: 1024 })).toEqual({ kind: 'created' });
    const st = statSync(image);
    expect(st.size).toBe(1024 * 1024 * 1024);
    expect(st.blocks * 512).toBeLessThan(st.size / 4); // sparse: only metadata and the journal are on disk
    expect(st.mode & 0o777).toBe(0o600);
    expect(fsckStatus(image)).toBe(0);
    const root = rootListing(image);
    expect(root.get('upper')).toEqual({ mode: '40755', uid: process.getuid!() });
    expect(root.get('work')).toEqual({ mode: '40755', uid: process.getuid!() });
    // No temporary files are left next to it.
    expect(readdirSync(dir).filter((n) => n.includes('alice'))).toEqual(['alice.img']);
    // The next use finds it healthy and keeps it.
    expect(await ensureOverlayImage(image, opts)).toEqual({ kind: 'existing' });
    expect(statSync(image).ino).toBe(st.ino);
  });

  it('a damaged image (garbage over the superblock) is moved aside and made again', async () => {
    const image = join(dir, 'bob.img');
    await createOverlayImage(image, 64, opts.mkfs);
    smashSuperblock(image);
    expect(fsckStatus(image)).not.toBe(0);
    const before = statSync(image).ino;
    const outcome = await ensureOverlayImage(image, opts);
    expect(outcome.kind).toBe('recreated');
    if (outcome.kind !== 'recreated') return;
    expect(outcome.keptAs).toMatch(/bob\.img\.corrupt-\d{8}T\d{6}Z$/);
    expect(statSync(outcome.keptAs).ino).toBe(before); // the old one, kept for the admin
    expect(outcome.why).toMatch(/e2fsck -n .*bob\.img/);
    expect(fsckStatus(image)).toBe(0);
    expect(rootListing(image).has('upper')).toBe(true);
  });

  it('a truncated image (the old dd/mkfs failure mode) is detected too', async () => {
    const image = join(dir, 'carol.img');
    await createOverlayImage(image, 64, opts.mkfs);
    writeFileSync(image, readFileSync(image).subarray(0, 8 * 1024 * 1024)); // cut to 8 MiB
    expect(await checkOverlayImage(image, opts.fsck, true)).toMatchObject({ ok: false });
    expect((await ensureOverlayImage(image, opts)).kind).toBe('recreated');
    expect(statSync(image).size).toBe(64 * 1024 * 1024);
  });

  it('a failing mkfs is an error with its exit status and output, and leaves no image', async () => {
    const image = join(dir, 'dave.img');
    await expect(createOverlayImage(image, 64, ['mkfs.ext3', '-O', 'no_such_feature'])).rejects.toThrow(/could not make the overlay file system: `mkfs.ext3 -O no_such_feature .*` .*exited with status 1/);
    expect(readdirSync(dir).filter((n) => n.includes('dave'))).toEqual([]);
  });

  it('refuses a path that is not a regular file instead of formatting it', async () => {
    const image = join(dir, 'erin.img');
    mkdirSync(image);
    await expect(ensureOverlayImage(image, opts)).rejects.toThrow(/not a regular file/);
  });

  it('names the kept copy with a UTC timestamp', () => {
    expect(corruptName('/o/a.img', new Date('2026-11-21T14:05:09.123Z'))).toBe('/o/a.img.corrupt-20261121T140509Z');
  });
});

describe('the overlay lease', () => {
  it('is exclusive while its holder lives, and released on request', () => {
    const file = join(dir, 'lease-1.img.lease');
    const a = tryAcquireLease(file, { sessionId: 's-a' });
    expect(a.kind).toBe('acquired');
    const b = tryAcquireLease(file, { sessionId: 's-b' });
    expect(b).toMatchObject({ kind: 'busy', owner: { sessionId: 's-a', pid: process.pid } });
    if (a.kind === 'acquired') a.lease.release();
    expect(existsSync(file)).toBe(false);
    expect(tryAcquireLease(file, { sessionId: 's-b' }).kind).toBe('acquired');
  });

  it('is taken over when its holder died on this host', async () => {
    const file = join(dir, 'lease-2.img.lease');
    const child = spawn(process.execPath, ['-e', '0']);
    const pid = child.pid!;
    await new Promise((r) => child.on('exit', r));
    writeFileSync(file, JSON.stringify({ pid, startTime: null, host: hostname(), sessionId: 's-dead', since: '' }));
    const taken = tryAcquireLease(file, { sessionId: 's-new' });
    expect(taken.kind).toBe('acquired');
    expect(readLeaseOwner(file)?.sessionId).toBe('s-new');
  });

  it('is taken over when not refreshed for the stale time (a dead node), not before', () => {
    const file = join(dir, 'lease-3.img.lease');
    writeFileSync(file, JSON.stringify({ pid: 1, startTime: null, host: 'other-node', sessionId: 's-far', since: '' }));
    expect(tryAcquireLease(file, { sessionId: 's-new', staleAfterMs: 60_000 }).kind).toBe('busy');
    const old = new Date(Date.now() - 120_000);
    utimesSync(file, old, old);
    expect(tryAcquireLease(file, { sessionId: 's-new', staleAfterMs: 60_000 }).kind).toBe('acquired');
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));
