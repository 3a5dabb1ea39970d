// The API bearer token lives in a file readable only by its owner. A missing file is
// created with a fresh random token; a file others can read is refused.
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
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

/**
 * `<token file>.header`: the same token as an HTTP header line, for `curl -H @file` in the
 * batchspawner query/cancel scripts (a token must never be a curl argument). Mode 0600.
 */
export function writeCurlHeaderFile(tokenFile: string, token: string): string {
  const file = `${tokenFile}.header`;
  const line = `Authorization: Bearer ${token}\n`;
  let current: string | null = null;
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    /* missing */
  }
  if (current !== line) {
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, line, { mode: 0o600 });
    renameSync(tmp, file);
  }
  chmodSync(file, 0o600);
  return file;
}

/** Constant-time comparison (hashing first makes the lengths equal). */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
