// The stdin document of `hpc-wrap startjob` (docs/contracts.md §2). Everything in it is
// hostile until this schema accepts it. Issue messages never echo values: `env` is secret.
import { z } from 'zod';
import { resourcesSchema } from '../config/schema-hpc-wrap.js';
import { validateServerName, validateSessionId, validateUsername, viaName } from './names.js';
import { tunnelRequestSchema } from './tunnel.js';
import { webdavCredentialsSchema } from '../config/schema-webdav.js';

export const MAX_REQUEST_BYTES = 1024 * 1024;

const noNul = (s: string) => !s.includes('\0');

const viaValidator = viaName;

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'environment variable names are letters, digits and _ (not starting with a digit)')
  .refine((k) => !k.startsWith('HPC_WRAP_'), 'HPC_WRAP_* variables are reserved for hpc-wrap');

export const startJobRequestSchema = z
  .object({
    version: z.literal(1, { error: 'version must be 1' }),
    sessionId: z.string().transform(viaValidator(validateSessionId)),
    user: z.string().max(1024, 'user name is too long (at most 128 characters)').transform(viaValidator(validateUsername)),
    serverName: z.string().nullish().transform(viaValidator(validateServerName)),
    env: z
      .record(envName, z.string().refine(noNul, 'environment values must not contain NUL'))
      .refine((e) => Object.keys(e).length <= 512, 'at most 512 environment variables')
      .default({}),
    command: z
      .array(z.string().min(1, 'command words must not be empty').max(4096).refine(noNul, 'command words must not contain NUL'))
      .min(1, 'command needs at least the program')
      .max(256),
    resources: resourcesSchema.nullish(),
    /** Name of a software environment in hpc-wrap.yaml `environments`; null = `defaultEnvironment`. */
    environment: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'an environment name is 1-64 letters, digits, _ . - (starting with a letter or digit)')
      .nullish()
      .transform((v) => v ?? null),
    script: z
      .string()
      .max(MAX_REQUEST_BYTES)
      .refine(noNul, 'the script must not contain NUL')
      .refine((s) => s.startsWith('#!'), 'a batch script must start with #! (e.g. #!/bin/sh)')
      .nullish(),
    /** The notebook tunnel (docs/tunnel.md); its privateKey is secret like env. null = no tunnel. */
    tunnel: tunnelRequestSchema.nullish().transform((v) => v ?? null),
    /**
     * Adopt only: report the job an earlier attempt for this session submitted (its jobid
     * file, or a job the scheduler lists with this session's marker) and submit nothing.
     * A bridge that lost the secrets (a restart) uses it; `env` is then empty.
     */
    adoptOnly: z.boolean().optional().default(false),
    /** WebDAV credentials for the share (webdav in hpc-wrap.yaml): SECRET like env, written only to secrets.json. */
    webdav: webdavCredentialsSchema.nullish().transform((v) => v ?? null),
  })
  .strict()
  .refine((r) => !(r.resources && r.script), { message: 'give either resources or script, not both', path: ['script'] });

export type StartJobRequest = z.infer<typeof startJobRequestSchema>;
/** The document as a sender builds it (before defaults and transforms). */
export type StartJobInput = z.input<typeof startJobRequestSchema>;

/** Issue texts for the error message: key path and rule only, never the value. */
export function describeIssues(issues: z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 10)
    .map((i) => {
      const key = i.path.length ? i.path.map(String).join('.') : '(document)';
      if (i.code === 'unrecognized_keys') return `${key}: unknown key(s) ${i.keys.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`;
      if (i.code === 'invalid_key') return `${key}: a variable name is not allowed: ${i.issues.map((x) => x.message).join(', ')}`;
      if (i.path[0] === 'env' && i.path.length > 1) return `env: ${i.message}`;
      return `${key}: ${i.message}`;
    })
    .join('; ');
}

/** stdout of a successful startjob. */
export const startJobResultSchema = z.object({
  /** null only for `adoptOnly` when no earlier attempt submitted a job. */
  jobId: z.string().min(1).nullable(),
  sessionId: z.string(),
  runDir: z.string(),
});
export type StartJobResult = z.infer<typeof startJobResultSchema>;
