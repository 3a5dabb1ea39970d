// The API bearer token lives in a file readable only by its owner. A missing file is
// created with a fresh random token; a file others can read is refused.
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function readOrCreateToken(file: string): { token: string; created: boolean } {
  let created = false;
  try {
    statSync(file);
  } catch {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    created = true;
  }
  const st = statSync(file);
  if ((st.mode & 0o077) !== 0) {
    throw new Error(`the API token file ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${file}`);
  }
  const token = readFileSync(file, 'utf8').trim();
  if (token.length < 16) throw new Error(`the API token in ${file} is shorter than 16 characters; put a long random token there`);
  chmodSync(file, 0o600);
  return { token, created };
}

/** Constant-time comparison (hashing first makes the lengths equal). */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
