// `hpc-wrap killjob ID` (docs/contracts.md §4): cancelling a finished job is not an error.
import { z } from 'zod';

export const killJobResultSchema = z.object({ jobId: z.string(), cancelled: z.boolean() });
export type KillJobResult = z.infer<typeof killJobResultSchema>;
