// The error every hpc-wrap command reports: a code from docs/contracts.md §2 and a
// message that says what to do. The code decides the exit status.

export type ErrorCode = 'invalid' | 'maintenance' | 'scheduler' | 'internal';

export const EXIT_CODES: Record<ErrorCode, number> = {
  internal: 1,
  invalid: 2,
  maintenance: 3,
  scheduler: 4,
};

export class WrapError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'WrapError';
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
export function errorDocument(err: WrapError): { error: { code: ErrorCode; message: string } } {
  return { error: { code: err.code, message: err.message } };
}
