// Ages given on command lines (`--older-than 90d`): a number and a unit, nothing else.

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400 };

/** `90d`, `12h`, `30m`, `2w`, `45s` → seconds; throws with what is allowed. */
export function parseAge(text: string, option = '--older-than'): number {
  const m = /^(\d{1,6})([smhdw])$/.exec(String(text).trim());
  if (!m) throw new Error(`${option} must be a number and a unit (s, m, h, d or w), e.g. 90d or 12h; got ${JSON.stringify(String(text).slice(0, 40))}`);
  const seconds = Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  if (seconds <= 0) throw new Error(`${option} must be more than 0`);
  return seconds;
}
