// The bridge's state (database, WAL, API token, tunnel keys) must be readable by its own
// account only. A directory or file others can read is refused at start with the command
// that fixes it; missing ones are created private.
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';

export class NotPrivateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotPrivateError';
  }
}

function modeOf(path: string): number | null {
  try {
    return statSync(path).mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Creates `dir` 0700 when missing; refuses one that group or others can read, write or enter. */
export function ensurePrivateDir(dir: string, what: string): void {
  const mode = modeOf(dir);
  if (mode === null) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    return;
  }
  if (mode & 0o077) {
    throw new NotPrivateError(
      `${dir} (${what}) is open to other accounts (mode ${mode.toString(8).padStart(4, '0')}); the bridge keeps secrets-adjacent state there. Fix: chmod 700 ${dir}`,
    );
  }
}

/** Refuses an existing file others can read; creates a missing one empty with mode 0600 (so files SQLite derives from it are 0600 too). */
export function ensurePrivateFile(file: string, what: string, { create = false } = {}): void {
  const mode = modeOf(file);
  if (mode === null) {
    if (create) closeSync(openSync(file, 'a', 0o600));
    return;
  }
  if (mode & 0o077) {
    throw new NotPrivateError(`${file} (${what}) is readable by other accounts (mode ${mode.toString(8).padStart(4, '0')}). Fix: chmod 600 ${file}`);
  }
}
