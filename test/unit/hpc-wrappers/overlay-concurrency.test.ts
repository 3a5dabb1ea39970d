// Two first spawns of one user at the same moment (two start-env processes in parallel,
// real mkfs.ext3 counted through overlays.mkfs): ONE image is made, and it stays the same
// file (inode, ctime) for later spawns. The session that finds it in use runs without it.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OverlayPlan } from '../../../hpc-wrappers/overlay/overlay-plan.js';
import { pathWithDouble, readDoubleLog, runDirWithSpool, startEnvProcess } from './support/container-env.js';
import { fsckStatus, hasE2fsprogs, rootListing } from './support/e2fs.js';
import { buildBundle, FIXTURES, makeWorkspace, tempDir, type Workspace } from './support/hpc-wrap-bundle.js';

let bundle: string;
let ws: Workspace;

beforeAll(async () => {
  if (!hasE2fsprogs()) throw new Error('this test needs e2fsprogs (mkfs.ext3, e2fsck, debugfs): apt-get install e2fsprogs');
  bundle = await buildBundle(tempDir());
  ws = makeWorkspace(bundle);
});
afterAll(() => ws.cleanup());

describe('concurrent first spawns of one user', () => {
  it('make ONE overlay image; later spawns keep it', async () => {
    const image = join(ws.workDir, 'overlays', 'alice.img');
    const mkfsLog = join(ws.dir, 'mkfs.log');
    const plan: OverlayPlan = {
      mode: 'auto',
      image,
      sizeMiB: 256,
      mkfs: [process.execPath, join(FIXTURES, 'mkfs-counting.mjs'), mkfsLog],
      fsck: ['e2fsck'],
      repair: true,
      whenInUse: 'without',
    };
    const sif = join(ws.dir, 'compute.sif');
    writeFileSync(sif, 'stand-in image');
    const server = [process.execPath, '-e', 'setTimeout(() => {}, 1500)'];
    const spawnOne = (i: number) => {
      const runDir = runDirWithSpool(ws, server, { home: null, container: { image: sif }, overlay: plan });
      const log = join(ws.dir, `double-${i}.log`);
      return { log, p: startEnvProcess(bundle, ws, runDir, { PATH: pathWithDouble(), CONTAINER_TEST_DOUBLE_LOG: log }) };
    };

    const both = [spawnOne(1), spawnOne(2)];
    const codes = await Promise.all(both.map((b) => b.p.exited));
    expect(codes, both.map((b) => b.p.output()).join('\n---\n')).toEqual([0, 0]);

    const mkfsRuns = readFileSync(mkfsLog, 'utf8').trim().split('\n');
    expect(mkfsRuns).toHaveLength(1);
    expect(both.filter((b) => b.p.output().includes(`created the overlay image ${image}`))).toHaveLength(1);
    // The other one either found the image in use (and ran without it) or, if it came
    // after the first ended, used the same image.
    for (const b of both) {
      const argv = readDoubleLog(b.log)[0]!.argv;
      if (b.p.output().includes('is in use by session')) expect(argv).not.toContain('--overlay');
      else expect(argv).toEqual(['exec', '--overlay', image, sif, ...server]);
    }
    expect(fsckStatus(image)).toBe(0);
    expect([...rootListing(image).keys()]).toEqual(expect.arrayContaining(['upper', 'work', 'lost+found']));
    expect(statSync(`${image}`).mode & 0o777).toBe(0o600);

    const before = statSync(image);
    const later = spawnOne(3);
    expect(await later.p.exited, later.p.output()).toBe(0);
    const after = statSync(image);
    expect([after.ino, after.ctimeMs]).toEqual([before.ino, before.ctimeMs]);
    expect(readFileSync(mkfsLog, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(readDoubleLog(later.log)[0]!.argv).toContain('--overlay');
  });
});
