// Schema pieces several config sections share (and the scheduler settings in
// hpc-wrappers/schedulers/, which config/schema.ts reads back through the registry).
import { z } from 'zod';

/** A command as an argv array: never a string, never run through a shell. */
export const argv = (what: string) =>
  z
    .array(z.string().min(1).refine((s) => !s.includes('\0'), 'must not contain NUL'))
    .min(1)
    .describe(`${what} (an argv array: the program, then its fixed arguments; never run through a shell)`);

/** Environment variables for a command (names as a shell would accept them). */
export const envRecord = () => z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/), z.string());
