// Making a 10 GiB overlay image: hpc-wrap's way (a sparse file + mkfs.ext3 -d, the exit
// status checked) next to the prior project's (`dd if=/dev/zero bs=1M count=N` writing
// every byte, then the same mkfs), side by side in one run, with the ratio. Both run as
// argv arrays (no shell). The size is scaled down, with a note, when the disk has no room
// for the dd copy. `HPC_WRAP_BENCH_DIR` picks the directory (default: the OS temp dir).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOverlayImage } from '../../hpc-wrappers/overlay/overlay-image.js';
import { table } from './bench-cluster.js';

const MiB = 1024 * 1024;

function freeMiB(dir: string): number {
  const s = statfsSync(dir);
  return Math.floor((s.bavail * s.bsize) / MiB);
}

function onDiskMiB(file: string): number {
  return (statSync(file).blocks * 512) / MiB;
}

export async function overlayCreate(wantMiB = 10 * 1024): Promise<void> {
  const base = process.env.HPC_WRAP_BENCH_DIR ?? tmpdir();
  const dir = mkdtempSync(join(base, 'overlay-bench-'));
  try {
    const free = freeMiB(dir);
    // dd needs the whole size on disk (+ slack for the journal and metadata); ours needs ~1%.
    let sizeMiB = wantMiB;
    if (free < wantMiB + 512) {
      sizeMiB = Math.max(64, Math.floor((free - 512) * 0.8));
      console.log(`\nnote: only ${free} MiB free in ${base}; the dd baseline needs the full size on disk, so both use ${sizeMiB} MiB instead of ${wantMiB} MiB`);
    }

    const ours = join(dir, 'ours.img');
    let t0 = performance.now();
    await createOverlayImage(ours, sizeMiB, ['mkfs.ext3']);
    const oursMs = performance.now() - t0;
    const oursDisk = onDiskMiB(ours);
    execFileSync('e2fsck', ['-n', ours], { stdio: 'ignore' }); // throws if the image were broken
    rmSync(ours);

    const seed = join(dir, 'seed.img');
    const root = join(dir, 'overlay_root');
    mkdirSync(join(root, 'upper'), { recursive: true });
    mkdirSync(join(root, 'work'), { recursive: true });
    t0 = performance.now();
    execFileSync('dd', ['if=/dev/zero', `of=${seed}`, 'bs=1M', `count=${sizeMiB}`], { stdio: 'ignore' });
    execFileSync('mkfs.ext3', ['-F', '-q', '-d', root, seed], { stdio: 'ignore' });
    const seedMs = performance.now() - t0;
    const seedDisk = onDiskMiB(seed);
    rmSync(seed);

    console.log(`\nMaking a ${sizeMiB} MiB ext3 overlay with upper/ and work/ (in ${base})`);
    console.log(
      table([
        ['method', 'wall ms', 'MiB written', 'MiB on disk after'],
        ['hpc-wrap: sparse file + mkfs.ext3 -d (exit checked)', oursMs.toFixed(0), '(mkfs only)', oursDisk.toFixed(0)],
        ['prior: dd if=/dev/zero bs=1M + mkfs.ext3 -d', seedMs.toFixed(0), `${sizeMiB} + mkfs`, seedDisk.toFixed(0)],
        ['ratio prior / hpc-wrap', `${(seedMs / oursMs).toFixed(0)}x`, '', ''],
      ]),
    );
    // mke2fs discards (punches out) the blocks of a regular-file target, so the zeros dd
    // wrote do not even stay on disk: they only cost the time.
    if (seedDisk < sizeMiB / 2) console.log('(mke2fs punched out the zeros dd wrote: both images end up the same size on disk; the dd time bought nothing)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await overlayCreate();
