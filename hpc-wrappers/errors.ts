// The error every hpc-wrap command reports: a code from contract/errors.ts and a message
// that says what to do. The code decides the exit status.
import { EXIT_CODES, type ErrorCode, type ErrorDocument } from '../contract/errors.js';

export type { ErrorCode } from '../contract/errors.js';
export { EXIT_CODES } from '../contract/errors.js';

export class WrapError extends Error {
  /** A submit whose outcome is unknown (the scheduler timed out): the job may exist. */
  readonly mayHaveSubmitted: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    opts: { mayHaveSubmitted?: boolean } = {},
  ) {
    super(message);
    this.name = 'WrapError';
    this.mayHaveSubmitted = opts.mayHaveSubmitted ?? false;
  }

  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}

/** Any thrown value as a WrapError (unexpected errors become `internal`). */
export function asWrapError(err: unknown): WrapError {
  if (err instanceof WrapError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new WrapError('internal', message);
}

/** The JSON document printed on stdout for a failure. */
export function errorDocument(err: WrapError): ErrorDocument {
  return { error: { code: err.code, message: err.message } };
}
