// Validation and reversible escaping of the names that reach the filesystem or a
// scheduler. Every name from the hub is hostile until it passes these checks.

const USERNAME_RE = /^[\p{L}\p{N}][\p{L}\p{N}._@+-]*$/u;
const SERVER_NAME_RE = /^[\p{L}\p{N}._-]*$/u;
const JOB_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.;:-]{0,63}$/;
const SESSION_ID_RE = /^s-[a-z2-7]{26}$/;
const PROFILE_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const USERNAME_MAX = 128;
export const SERVER_NAME_MAX = 64;

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

/** Returns the NFC-normalised username or throws a NameError that says what is allowed. */
export function validateUsername(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new NameError('user name is missing: give the JupyterHub user name (1 to 128 characters)');
  }
  const name = value.normalize('NFC');
  if (name.length > USERNAME_MAX) {
    throw new NameError(`user name ${show(name)} is too long: at most ${USERNAME_MAX} characters are allowed`);
  }
  if (!USERNAME_RE.test(name)) {
    throw new NameError(
      `user name ${show(name)} is not allowed: it must start with a letter or digit and contain only letters, digits and . _ @ + -`,
    );
  }
  return name;
}

export function validateServerName(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new NameError('server name must be a string');
  const name = value.normalize('NFC');
  if (name.length > SERVER_NAME_MAX || !SERVER_NAME_RE.test(name)) {
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

/**
 * Maps a (validated) name to a filesystem-safe, reversible form: bytes [a-z0-9-] stay,
 * every other UTF-8 byte becomes `_xx`. The result never starts with '.' and never
 * contains '/', so it cannot escape the directory it is joined to.
 */
export function escapeName(name: string): string {
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += KEEP.test(ch) ? ch : `_${byte.toString(16).padStart(2, '0')}`;
  }
  if (out.length === 0) throw new NameError('cannot escape an empty name');
  return out;
}

export function unescapeName(escaped: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < escaped.length; i++) {
    const ch = escaped[i]!;
    if (ch === '_') {
      const hex = escaped.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/.test(hex)) throw new NameError(`not an escaped name: ${show(escaped)}`);
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
