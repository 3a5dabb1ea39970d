// Distinct hub names never share anything per-user on the cluster: the escaped name, the
// user's directory, home, overlay image, job name and WebDAV placeholder. JupyterHub keeps
// NFC/NFD spellings, case variants and homoglyphs as different users, so must we.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ESCAPED_NAME_MAX, escapeName, NameError, unescapeName, validateUsername } from '../../../contract/names.js';
import { Layout, jobNameFor } from '../../../hpc-wrappers/layout.js';
import { planOverlay } from '../../../hpc-wrappers/overlay/overlay-plan.js';
import { expandUserPlaceholders } from '../../../hpc-wrappers/webdav-target.js';
import { hpcWrapSchema } from '../../../config/schema.js';

const cfg = hpcWrapSchema.parse({
  workDir: '/w',
  homes: { create: true },
  overlays: { enabled: true },
  scheduler: { kind: 'fork' },
});
const layout = new Layout(cfg);

/** Everything per-user that a name turns into, as one string per kind. */
function perUser(name: string): string[] {
  return [
    escapeName(name),
    layout.userDir(name),
    layout.homeDir(name)!,
    planOverlay(cfg, name, true)!.image,
    jobNameFor('jupyterhub', name),
    expandUserPlaceholders('/dav/{escapedUser}', name),
  ];
}

// Letters that look alike or differ only in form: Latin, Cyrillic, Greek homoglyphs,
// precomposed and decomposed accents, upper and lower case, CJK, digits of other scripts.
const PIECES = [
  'a', 'A', 'e', 'E', 'o', 'O', 'p', 'P', 'c', 'x', 'i', 'l', 'I', '1', '0', 'z', '-', '.', '_', '@', '+',
  'а', 'А', 'е', 'о', 'р', 'с', 'х', 'і', // Cyrillic homoglyphs
  'α', 'ο', 'ρ', 'Ο', // Greek
  'é', 'e\u0301', 'É', 'E\u0301', 'ñ', 'n\u0303', 'å', 'a\u030a', 'Å', '\u212b', // NFC vs NFD, Angstrom sign
  'ß', 'ẞ', 'ſ', 'ﬁ', 'Ⅻ', '٣', '३', '学', '生', 'ä', 'ü', 'ö', 'ж', 'Ж', 'я',
];
const nameArb = fc
  .tuple(fc.constantFrom('a', 'B', 'é', 'e', 'Ж', '学', '7', 'Å'), fc.array(fc.constantFrom(...PIECES), { minLength: 0, maxLength: 70 }))
  .map(([first, rest]) => first + rest.join(''));

function validOrNull(name: string): string | null {
  try {
    return validateUsername(name);
  } catch (err) {
    if (err instanceof NameError) return null;
    throw err;
  }
}

describe('the per-user mapping is injective', () => {
  it('NFC/NFD pairs, case pairs and homoglyphs stay apart (the reported case first)', () => {
    const nfd = 'e\u0301té';
    const nfc = 'été';
    expect(nfd).not.toBe(nfc);
    expect(validateUsername(nfd)).toBe(nfd); // not normalised
    const groups = [[nfd, nfc], ['alice', 'Alice', 'ALICE'], ['paypal', 'pаypal' /* Cyrillic а */], ['Å', '\u212b', 'A\u030a']];
    for (const g of groups) {
      const mapped = g.map((n) => perUser(validateUsername(n)));
      for (let k = 0; k < mapped[0]!.length; k++) expect(new Set(mapped.map((m) => m[k])).size).toBe(g.length);
    }
  });

  it('over 10,000 random names (with their NFC, NFD and case variants): distinct names never share a per-user path', () => {
    const seen = new Map<string, string>(); // escaped → name
    let names = 0;
    fc.assert(
      fc.property(nameArb, (raw) => {
        for (const variant of new Set([raw, raw.normalize('NFC'), raw.normalize('NFD'), raw.toUpperCase(), raw.toLowerCase()])) {
          const name = validOrNull(variant);
          if (name === null) continue;
          names++;
          const e = escapeName(name);
          expect(e).toMatch(/^[a-z0-9_-]+$/);
          expect(e.length).toBeLessThanOrEqual(ESCAPED_NAME_MAX);
          expect(unescapeName(e)).toBe(name);
          const other = seen.get(e);
          if (other !== undefined) expect(other).toBe(name);
          seen.set(e, name);
        }
      }),
      { numRuns: 4000, seed: 20261129 },
    );
    expect(names).toBeGreaterThan(10_000);
    // the other per-user paths are built from the escaped name: spot-check they are distinct too
    const sample = [...seen.values()].slice(0, 2000);
    for (let k = 0; k < 6; k++) expect(new Set(sample.map((n) => perUser(n)[k])).size).toBe(sample.length);
  });

  it('long names in non-Latin scripts use the compact form; what cannot fit is refused up front with the limit', () => {
    const cyr48 = 'Ж'.repeat(48); // 96 bytes: the byte form would be 288 characters
    const e = escapeName(validateUsername(cyr48));
    expect(e.startsWith('_z')).toBe(true);
    expect(e.length).toBeLessThanOrEqual(ESCAPED_NAME_MAX);
    expect(unescapeName(e)).toBe(cyr48);
    expect(() => validateUsername('é'.repeat(128))).toThrow(/too long for the cluster's file names: 256 bytes in UTF-8; names of up to 123 bytes/);
    expect(validateUsername('x'.repeat(128))).toBe('x'.repeat(128)); // plain ASCII of the maximum length fits as is
  });

  it('lone surrogates and other malformed text are refused, never mapped to U+FFFD', () => {
    expect(() => validateUsername('a\ud800b')).toThrow(/not valid Unicode/);
    expect(() => validateUsername('a\ud801b')).toThrow(/not valid Unicode/);
  });
});
