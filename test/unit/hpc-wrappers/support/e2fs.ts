// Real e2fsprogs for the overlay tests: whether they are installed, and what an image holds.
import { execFileSync, spawnSync } from 'node:child_process';

export function hasE2fsprogs(): boolean {
  return ['mkfs.ext3', 'e2fsck', 'debugfs'].every((p) => spawnSync(p, ['-V'], { stdio: 'ignore' }).error === undefined);
}

/** `e2fsck -n IMAGE` exit status (0 = clean). */
export function fsckStatus(image: string): number | null {
  return spawnSync('e2fsck', ['-n', image], { stdio: 'ignore' }).status;
}

/** The root directory of an ext image as debugfs lists it: name → {mode, uid}. */
export function rootListing(image: string): Map<string, { mode: string; uid: number }> {
  const out = execFileSync('debugfs', ['-R', 'ls -l /', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const entries = new Map<string, { mode: string; uid: number }>();
  for (const line of out.split('\n')) {
    // "     12   40755 (2)      0      0    4096 22-Nov-2026 00:04 upper"
    const m = /^\s*\d+\s+(\d+)\s+\(\d+\)\s+(\d+)\s+\d+\s+\d+\s+\S+\s+\S+\s+(.+)$/.exec(line);
    if (m) entries.set(m[3]!.trim(), { mode: m[1]!, uid: Number(m[2]) });
  }
  return entries;
}
