// Paging of the list endpoints (GET /v1/sessions, GET /v1/jobs): newest first, a limit, and
// an opaque cursor naming the last row of the page, so a list is never truncated silently
// (docs/contracts.md §1 "Lists"). Keyset paging: a page costs the same at any depth.

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

export class PageError extends Error {}

/** The cursor after a row: its sort key, base64url. */
export function encodeCursor(key: readonly string[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** The sort key in a cursor; throws PageError for anything this bridge did not hand out. */
export function decodeCursor(raw: string, parts: number): string[] {
  let key: unknown;
  try {
    if (raw.length > 512 || !/^[A-Za-z0-9_-]+$/.test(raw)) throw new Error('shape');
    key = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw new PageError('cursor is not one this bridge handed out: pass the "next" value of the previous page unchanged');
  }
  if (!Array.isArray(key) || key.length !== parts || !key.every((k) => typeof k === 'string' && k.length <= 200)) {
    throw new PageError('cursor is not one this bridge handed out: pass the "next" value of the previous page unchanged');
  }
  return key as string[];
}

/** `limit` from a query string: 1..MAX_PAGE, DEFAULT_PAGE when absent. */
export function pageLimit(raw: unknown): number {
  if (raw === undefined) return DEFAULT_PAGE;
  const n = typeof raw === 'string' && /^\d{1,7}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE) throw new PageError(`limit must be an integer from 1 to ${MAX_PAGE} (default ${DEFAULT_PAGE})`);
  return n;
}

export interface Page<T> {
  items: T[];
  /** The cursor of the next page, or null when this page is the last. */
  next: string | null;
}
