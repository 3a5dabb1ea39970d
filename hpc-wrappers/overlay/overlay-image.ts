// A user's ext3 overlay image: made on first use, checked before every use, and when the
// check fails (after a repair attempt) moved aside and made again.
//
// Unlike the prior `dd if=/dev/zero … && mkfs` (minutes of writing zeros, exit codes
// unchecked, a half-written image left in place for ever), the image is a SPARSE file
// (open + ftruncate: no data written), made under a temporary name in the same directory,
// formatted with `mkfs.ext3 -F -q -d <dir with upper/ and work/>` whose exit status is
// checked, chmod 0600, and only then linked into place. A crash at any point leaves no
// image (the next spawn makes one) rather than a broken one. Callers hold the lease
// (overlay-lease.ts), so no two sessions do this for one image at once.
import { chmodSync, closeSync, ftruncateSync, linkSync, lstatSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { runArgv, type CommandResult } from '../schedulers/run-command.js';

const MiB = 1024 * 1024;
const COMMAND_TIMEOUT_MS = 15 * 60_000;

export interface CommandLine {
  argv: string[];
  result: CommandResult;
}

function tail(r: CommandResult, chars = 600): string {
  const text = `${r.stderr}\n${r.stdout}`.trim();
  return text.length > chars ? `…${text.slice(-chars)}` : text;
}

function describe(c: CommandLine): string {
  return `\`${c.argv.join(' ')}\` ${c.result.failure ?? 'failed'}${tail(c.result) ? `: ${tail(c.result)}` : ''}`;
}

async function run(argv: string[]): Promise<CommandLine> {
  return { argv, result: await runArgv(argv, { timeoutMs: COMMAND_TIMEOUT_MS, env: { LC_ALL: 'C' } }) };
}

/** Makes a new image at `image` (which must not exist). Throws with the mkfs output on failure. */
export async function createOverlayImage(image: string, sizeMiB: number, mkfs: readonly string[]): Promise<void> {
  const dir = dirname(image);
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  const stem = `.${basename(image)}.${process.pid}.${Date.now().toString(36)}`;
  const skeleton = mkdtempSync(join(dir, `${stem}.root-`));
  const tmp = join(dir, `${stem}.tmp`);
  try {
    mkdirSync(join(skeleton, 'upper'), { mode: 0o755 });
    mkdirSync(join(skeleton, 'work'), { mode: 0o755 });
    chmodSync(skeleton, 0o755); // becomes the image's root directory
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      ftruncateSync(fd, sizeMiB * MiB); // sparse: no block is written
    } finally {
      closeSync(fd);
    }
    const made = await run([...mkfs, '-F', '-q', '-d', skeleton, tmp]);
    if (!made.result.ok) throw new Error(`could not make the overlay file system: ${describe(made)}`);
    chmodSync(tmp, 0o600);
    // link, not rename: never replaces an image that appeared meanwhile.
    linkSync(tmp, image);
  } finally {
    rmSync(tmp, { force: true });
    rmSync(skeleton, { recursive: true, force: true });
  }
}

export type CheckOutcome = { ok: true; repaired: boolean } | { ok: false; why: string };

/** `fsck -n` (read-only check); when it fails and `repair`, `fsck -p` (journal replay, safe fixes). */
export async function checkOverlayImage(image: string, fsck: readonly string[], repair: boolean): Promise<CheckOutcome> {
  const check = await run([...fsck, '-n', image]);
  if (check.result.ok) return { ok: true, repaired: false };
  if (check.result.exitCode === null) throw new Error(`could not check the overlay image: ${describe(check)}`); // fsck missing or hung: not the image's fault
  if (!repair) return { ok: false, why: describe(check) };
  const fix = await run([...fsck, '-p', image]);
  // e2fsck: 0 = clean, 1 = errors corrected, 2 = corrected, reboot advised (irrelevant for a file).
  if (fix.result.exitCode !== null && fix.result.exitCode <= 2) return { ok: true, repaired: true };
  return { ok: false, why: `${describe(check)}; repair: ${describe(fix)}` };
}

/** `<image>.corrupt-<UTC timestamp>` */
export function corruptName(image: string, now = new Date()): string {
  return `${image}.corrupt-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
}

export type EnsureOutcome =
  | { kind: 'existing' }
  | { kind: 'repaired' }
  | { kind: 'created' }
  | { kind: 'recreated'; keptAs: string; why: string };

export interface EnsureOptions {
  sizeMiB: number;
  mkfs: readonly string[];
  fsck: readonly string[];
  repair: boolean;
}

/** Makes sure a usable image exists at `image`. The caller holds the lease. */
export async function ensureOverlayImage(image: string, opts: EnsureOptions): Promise<EnsureOutcome> {
  let st;
  try {
    st = lstatSync(image);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (!st) {
    await createOverlayImage(image, opts.sizeMiB, opts.mkfs);
    return { kind: 'created' };
  }
  if (!st.isFile()) throw new Error(`the overlay image ${image} is not a regular file (a ${st.isSymbolicLink() ? 'symbolic link' : 'directory or device'}); remove it or move it away`);
  // In a shared overlay directory another account could have made this file first, to read what we write.
  if (process.geteuid && st.uid !== process.geteuid()) {
    throw new Error(`the overlay image ${image} belongs to another account (uid ${st.uid}); it is not used. An operator must check and remove it`);
  }
  const checked = await checkOverlayImage(image, opts.fsck, opts.repair);
  if (checked.ok) return { kind: checked.repaired ? 'repaired' : 'existing' };
  const keptAs = corruptName(image);
  renameSync(image, keptAs);
  await createOverlayImage(image, opts.sizeMiB, opts.mkfs);
  return { kind: 'recreated', keptAs, why: checked.why };
}
