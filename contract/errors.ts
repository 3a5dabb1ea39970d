// How an hpc-wrap command reports a failure (docs/contracts.md §2): a code, the exit status
// that goes with it, and the JSON document on stdout. The hub reads the same schema.
import { z } from 'zod';

export const ERROR_CODES = ['invalid', 'maintenance', 'scheduler', 'unreachable', 'internal'] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * Exit status per code. `unreachable` (the scheduler did not answer: a transient outage)
 * is distinct from `scheduler` (the scheduler answered and refused), so that the bridge
 * retries the first and reports the second.
 */
export const EXIT_CODES: Record<ErrorCode, number> = {
  internal: 1,
  invalid: 2,
  maintenance: 3,
  scheduler: 4,
  unreachable: 5,
};

/** Codes the bridge must not retry: the cluster answered with a definite no. */
export const REFUSAL_CODES: ReadonlySet<ErrorCode> = new Set(['invalid', 'maintenance', 'scheduler']);

export const errorDocumentSchema = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});
export type ErrorDocument = { error: { code: ErrorCode; message: string } };
