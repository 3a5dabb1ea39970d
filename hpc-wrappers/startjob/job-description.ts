// job.json in the spool: what start-env needs on the compute node, frozen at submit
// time so the job does not depend on the config or the working directory there. Not
// secret (the hub env is in secrets.json).
import { z } from 'zod';
import { LOG_LEVELS } from '../app-log.js';
import { environmentSchema } from '../../config/schema-environment.js';
import { overlayPlanSchema } from '../overlay/overlay-plan.js';
import { tunnelSpecSchema } from '../../contract/tunnel.js';
import { webdavCredentialsSchema, webdavSchema } from '../../config/schema-webdav.js';

export const jobRuntimeSchema = z.object({
  /** identity.mode is per-user: the job runs as the student and logs into their directory. */
  perUser: z.boolean(),
  /** The variable the job finds its own id in (the scheduler's jobIdVariable). */
  jobIdVariable: z.string().min(1),
  logLevel: z.enum(LOG_LEVELS),
  /** Where start-env logs until job.json is read (the log startjob used). */
  logFile: z.string().min(1),
});
export type JobRuntime = z.infer<typeof jobRuntimeSchema>;

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
  /** The software environment chosen at submit time (name + its spec from hpc-wrap.yaml), or null = none. */
  environment: z.object({ name: z.string(), spec: environmentSchema }).nullable().default(null),
  /** GPUs the job asked for (resources.gpus); null = unknown (a ready batch script). */
  gpus: z.number().int().min(0).nullable().default(null),
  /**
   * Variables a job given GPUs finds in its environment under this scheduler (its dialect's
   * gpuVariables, frozen at submit time): how the container step tells, for a ready script.
   */
  gpuVariables: z.array(z.string()).default(['CUDA_VISIBLE_DEVICES', 'ROCR_VISIBLE_DEVICES']),
  /** The user's overlay image (overlay step → container step), or null = none. */
  overlay: overlayPlanSchema.nullable().default(null),
  /** The notebook tunnel to the hub (its private key is in secrets.json), or null = none. */
  tunnel: tunnelSpecSchema.nullable().default(null),
  /** The WebDAV mount (webdav in hpc-wrap.yaml; no credentials: those are in secrets.json), or null = none. */
  webdav: webdavSchema.nullable().default(null),
  /** The application log, so start-env logs where startjob did. */
  logFile: z.string().nullable(),
  /**
   * What start-env needs of hpc-wrap.yaml, resolved at submit time, so that a job starts
   * without reading the config (no YAML, no config schema, no scheduler registry: the
   * start-up cost in every job). null: a job submitted by an hpc-wrap before this field,
   * whose start-env loads the config as before.
   */
  runtime: jobRuntimeSchema.nullable().default(null),
  createdAt: z.string(),
});
export type JobDescription = z.infer<typeof jobDescriptionSchema>;

export const secretsSchema = z.object({
  env: z.record(z.string(), z.string()),
  /** The tunnel agent's private key (with job.tunnel), else null. */
  tunnelPrivateKey: z.string().nullable().default(null),
  /** The spawn's WebDAV credentials (startjob `webdav`), else null. */
  webdav: webdavCredentialsSchema.nullable().default(null),
});
export type SecretsFile = z.infer<typeof secretsSchema>;
