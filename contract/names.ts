// Names that cross between the hub and the cluster (docs/contracts.md §1): validation,
// and the one reversible escaping that maps a hub user name to everything per-user on the
// cluster (directories, job name, overlay image, WebDAV mount). Every name from the hub is
// hostile until it passes these checks. The mapping is injective: JupyterHub keeps names
// that differ only in Unicode normalisation (NFC `été` vs NFD `e\u0301té`) or case as
// different users, so nothing here normalises or folds case.

const USERNAME_RE = /^[\p{L}\p{N}][\p{L}\p{M}\p{N}._@+-]*$/u;
const SERVER_NAME_RE = /^[\p{L}\p{M}\p{N}._-]*$/u;
const JOB_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.;:-]{0,63}$/;
const SESSION_ID_RE = /^s-[a-z2-7]{26}$/;
const PROFILE_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const USERNAME_MAX = 128;
export const SERVER_NAME_MAX = 64;
/**
 * Longest escaped name: it becomes a file name component (<= 255 bytes) with suffixes such
 * as `.img.lease`, and part of a job name.
 */
export const ESCAPED_NAME_MAX = 200;
/** UTF-8 bytes of a name whose compact escaping (`_z` + base32) still fits ESCAPED_NAME_MAX. */
export const USERNAME_MAX_BYTES = Math.floor(((ESCAPED_NAME_MAX - 2) * 5) / 8);

export class NameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NameError';
  }
}

function show(value: string): string {
  const shown = value.length > 40 ? `${value.slice(0, 40)}… (${value.length} characters)` : value;
  return JSON.stringify(shown);
}

/**
 * Returns the user name unchanged, or throws a NameError that says what is allowed. The
 * name is NOT normalised: two spellings of one word are two users, as in JupyterHub.
 */
export function validateUsername(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new NameError('user name is missing: give the JupyterHub user name (1 to 128 characters)');
  }
  const name = value;
  if (!name.isWellFormed()) throw new NameError('user name is not valid Unicode text (it contains a lone surrogate)');
  const chars = [...name].length;
  if (chars > USERNAME_MAX) {
    throw new NameError(`user name ${show(name)} is too long: at most ${USERNAME_MAX} characters are allowed`);
  }
  if (!USERNAME_RE.test(name)) {
    throw new NameError(
      `user name ${show(name)} is not allowed: it must start with a letter or digit and contain only letters, combining marks, digits and . _ @ + -`,
    );
  }
  if (escapedLength(name) > ESCAPED_NAME_MAX) {
    throw new NameError(
      `user name ${show(name)} is too long for the cluster's file names: ${Buffer.byteLength(name, 'utf8')} bytes in UTF-8; names of up to ${USERNAME_MAX_BYTES} bytes (about ${Math.floor(USERNAME_MAX_BYTES / 2)} letters of a non-Latin script) or ${ESCAPED_NAME_MAX} characters of a-z 0-9 - are allowed`,
    );
  }
  return name;
}

/** Returns the server name unchanged ('' = the default server); not normalised, like user names. */
export function validateServerName(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new NameError('server name must be a string');
  const name = value;
  if (!name.isWellFormed() || [...name].length > SERVER_NAME_MAX || !SERVER_NAME_RE.test(name)) {
    throw new NameError(
      `server name ${show(name)} is not allowed: at most ${SERVER_NAME_MAX} letters, digits and . _ -`,
    );
  }
  return name;
}

export function validateJobId(value: unknown): string {
  if (typeof value !== 'string' || !JOB_ID_RE.test(value)) {
    throw new NameError(`job id ${show(String(value))} is not valid: 1-64 of A-Z a-z 0-9 _ . ; : - expected`);
  }
  return value;
}

export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && SESSION_ID_RE.test(value);
}

export function validateSessionId(value: unknown): string {
  if (!isSessionId(value)) throw new NameError(`session id ${show(String(value))} is not valid`);
  return value;
}

export function validateProfileName(value: unknown): string {
  if (typeof value !== 'string' || !PROFILE_RE.test(value)) {
    throw new NameError(`profile name ${show(String(value))} is not valid: 1-64 of A-Z a-z 0-9 _ . - expected`);
  }
  return value;
}

const KEEP = /^[a-z0-9-]$/;
const HEX2 = /^[0-9a-f]{2}$/;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** Marks the compact form. `_z` never occurs in the byte form, where `_` is always followed by two hex digits. */
const COMPACT = '_z';

function byteForm(bytes: Buffer): string {
  let out = '';
  for (const byte of bytes) {
    const ch = String.fromCharCode(byte);
    out += KEEP.test(ch) ? ch : `_${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

function base32(bytes: Buffer): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31];
  return out;
}

function unbase32(text: string): Buffer | null {
  const bytes: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const ch of text) {
    const v = BASE32.indexOf(ch);
    if (v < 0) return null;
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bytes.push((acc >>> (bits - 8)) & 255);
      bits -= 8;
    }
    acc &= (1 << bits) - 1;
  }
  if (acc !== 0) return null; // non-canonical padding bits: not something base32() made
  return Buffer.from(bytes);
}

/**
 * Maps a (validated) name to a filesystem-safe, reversible form of [a-z0-9_-] only:
 * - byte form: bytes [a-z0-9-] stay, every other UTF-8 byte becomes `_xx` (hex), e.g.
 *   `Alice.B` → `_41lice_2e_42`; used while it is at most ESCAPED_NAME_MAX characters;
 * - compact form, for longer results (names in non-Latin scripts): `_z` + base32 of the
 *   UTF-8 bytes (1.6 characters per byte instead of 3).
 * Injective: each form is reversible and no byte form starts with (or contains) `_z`.
 * The result never starts with '.', never contains '/', so it cannot leave the directory
 * it is joined to. Throws when even the compact form is too long (validateUsername refuses
 * such names first).
 */
/** Length of escapeName(name) without building it (the shorter of the two forms). */
function escapedLength(name: string): number {
  const bytes = Buffer.from(name, 'utf8');
  let plain = 0;
  for (const b of bytes) plain += KEEP.test(String.fromCharCode(b)) ? 1 : 3;
  return plain <= ESCAPED_NAME_MAX ? plain : 2 + Math.ceil((bytes.length * 8) / 5);
}

export function escapeName(name: string): string {
  if (name.length === 0) throw new NameError('cannot escape an empty name');
  if (!name.isWellFormed()) throw new NameError('cannot escape a name that is not valid Unicode text');
  const bytes = Buffer.from(name, 'utf8');
  const plain = byteForm(bytes);
  if (plain.length <= ESCAPED_NAME_MAX) return plain;
  const compact = COMPACT + base32(bytes);
  if (compact.length <= ESCAPED_NAME_MAX) return compact;
  throw new NameError(`name ${show(name)} is too long to become a file name (${bytes.length} bytes in UTF-8, at most ${USERNAME_MAX_BYTES})`);
}

export function unescapeName(escaped: string): string {
  if (escaped.startsWith(COMPACT)) {
    const bytes = unbase32(escaped.slice(COMPACT.length));
    if (!bytes || bytes.length === 0) throw new NameError(`not an escaped name: ${show(escaped)}`);
    return bytes.toString('utf8');
  }
  const bytes: number[] = [];
  for (let i = 0; i < escaped.length; i++) {
    const ch = escaped[i]!;
    if (ch === '_') {
      const hex = escaped.slice(i + 1, i + 3);
      if (!HEX2.test(hex)) throw new NameError(`not an escaped name: ${show(escaped)}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (KEEP.test(ch)) {
      bytes.push(ch.charCodeAt(0));
    } else {
      throw new NameError(`not an escaped name: ${show(escaped)}`);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** A zod transform that applies one of the validators above and reports its message. */
export function viaName<T>(validate: (v: unknown) => T) {
  return (value: unknown, ctx: { addIssue(issue: { code: 'custom'; message: string }): void }): T => {
    try {
      return validate(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof NameError ? err.message : 'is not valid' });
      return undefined as never;
    }
  };
}
