// job.json in the spool: what start-env needs on the compute node, frozen at submit
// time so the job does not depend on the config or the working directory there. Not
// secret (the hub env is in secrets.json).
import { z } from 'zod';

export const jobDescriptionSchema = z.object({
  version: z.literal(1),
  sessionId: z.string(),
  user: z.string(),
  serverName: z.string(),
  command: z.array(z.string().min(1)).min(1),
  /** Per-user home (HOME and cwd of the server), or null. */
  home: z.string().nullable(),
  jupyter: z.object({
    bindAddress: z.string().min(1),
    portRange: z.object({ start: z.number().int(), end: z.number().int() }),
  }),
  /** The application log, so start-env logs where startjob did. */
  logFile: z.string().nullable(),
  createdAt: z.string(),
});
export type JobDescription = z.infer<typeof jobDescriptionSchema>;

export const secretsSchema = z.object({ env: z.record(z.string(), z.string()) });
export type SecretsFile = z.infer<typeof secretsSchema>;
