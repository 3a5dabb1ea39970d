// `hpc-wrap killjob ID` (docs/contracts.md §4): cancelling a finished job is not an error.
import { z } from 'zod';
import { validateJobId, validateSessionId, validateUsername, viaName } from './names.js';

export const killJobResultSchema = z.object({ jobId: z.string().nullable(), cancelled: z.boolean() });
export type KillJobResult = z.infer<typeof killJobResultSchema>;

/** The bridge's killjob request on stdin (the job may be null: only clean up the run dir's spool). */
export const killJobRequestSchema = z
  .object({
    version: z.literal(1),
    jobId: z.string().transform(viaName(validateJobId)).nullable(),
    sessionId: z.string().transform(viaName(validateSessionId)),
    user: z.string().max(1024).transform(viaName(validateUsername)),
    /** Keep the run dir's spool (a duplicate job of a live session: the live job may still need it). */
    keepSpool: z.boolean().optional().default(false),
  })
  .strict();
export type KillJobRequest = z.infer<typeof killJobRequestSchema>;
