// The files of one launch: launch.json (what was asked and resolved, the gateway route
// without its token: never a secret), secret.json (the route secret, the one-time token
// and, behind the gateway's tunnel, the route's tunnel key: 0600), and per submission jobid + submitted.json. Written atomically, read
// tolerantly: a half-written launch shows up in `list` as broken, it does not crash it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { environmentSchema } from '../../config/schema-environment.js';
import { tunnelSpecSchema } from '../../contract/tunnel.js';
import { resourcesSchema } from '../../config/schema-hpc-wrap.js';
import { WrapError } from '../errors.js';
import { isRecord, readJsonOrNull, writeFileAtomic, writeJsonAtomic } from '../json-files.js';
import type { LaunchPaths } from './launch-paths.js';

export const launchRecordSchema = z.object({
  version: z.literal(1),
  id: z.string(),
  user: z.string(),
  createdAt: z.string(),
  /** The login node launch ran on (for the ssh -L instructions). */
  host: z.string(),
  configPath: z.string().nullable(),
  resources: resourcesSchema,
  interface: z.enum(['lab', 'notebook', 'voila']),
  notebookDir: z.string(),
  environment: z.object({ name: z.string(), spec: environmentSchema }).nullable(),
  keepAlive: z.number().int().min(0),
  /** Where the server listens on the node. */
  bindAddress: z.string(),
  /** sha256 of the route secret: the value in the job comment. */
  secretHash: z.string(),
  /**
   * The gateway route; label, url and mode are null until `launch` has registered the job
   * (the job may start before that: its launch step waits for them).
   */
  gateway: z
    .object({
      /** The gateway's base URL (launch.gateway.url at launch time). */
      base: z.string(),
      label: z.string().nullable(),
      /** The route URL without the one-time token. */
      url: z.string().nullable(),
      mode: z.enum(['subdomain', 'path']).nullable(),
      /**
       * gateway.backend tunnel: the job's tunnel spec (not secret; its key is in
       * secret.json), which the launch step hands to the tunnel step. Absent/null: direct.
       */
      tunnel: tunnelSpecSchema.nullable().optional(),
    })
    .nullable(),
});
export type LaunchRecord = z.infer<typeof launchRecordSchema>;

export const launchSecretSchema = z.object({
  /** Proves the launch to the gateway; the notebook's token is derived from it. */
  routeSecret: z.string(),
  /** The one-time token of the printed URL (null until registered, or without a gateway). */
  oneTimeToken: z.string().nullable(),
  /** gateway.backend tunnel: the private key the gateway made for this launch's route (SECRET); absent/null otherwise. */
  tunnelPrivateKey: z.string().nullable().optional(),
});
export type LaunchSecret = z.infer<typeof launchSecretSchema>;

export interface Submission {
  n: number;
  runDir: string;
  jobId: string | null;
  submittedAt: string | null;
  /** The job it waits for (keep-alive successor), or null. */
  afterJob: string | null;
}

export function writeLaunchRecord(paths: LaunchPaths, rec: LaunchRecord): void {
  writeJsonAtomic(paths.launchFile(rec.id), rec, 0o600);
}

export function readLaunchRecord(paths: LaunchPaths, id: string): LaunchRecord {
  const file = paths.launchFile(id);
  if (!existsSync(paths.launchDir(id))) throw new WrapError('invalid', `no launch ${id} (see \`hpc-wrap list\`)`);
  const parsed = launchRecordSchema.safeParse(readJsonOrNull(file));
  if (!parsed.success) throw new WrapError('internal', `${file} is missing or damaged; \`hpc-wrap clean ${id}\` removes the launch`);
  return parsed.data;
}

export function writeLaunchSecret(paths: LaunchPaths, id: string, secret: LaunchSecret): void {
  writeJsonAtomic(paths.secretFile(id), secret, 0o600);
}

export function readLaunchSecret(paths: LaunchPaths, id: string): LaunchSecret {
  const parsed = launchSecretSchema.safeParse(readJsonOrNull(paths.secretFile(id)));
  // Never echo the content.
  if (!parsed.success) throw new WrapError('internal', `${paths.secretFile(id)} is missing or damaged`);
  return parsed.data;
}

export function recordSubmission(runDir: string, jobId: string, afterJob: string | null): void {
  writeFileAtomic(join(runDir, 'jobid'), `${jobId}\n`, 0o600);
  writeJsonAtomic(join(runDir, 'submitted.json'), { jobId, submittedAt: new Date().toISOString(), afterJob }, 0o600);
}

export function readSubmission(runDir: string, n: number): Submission {
  const v = readJsonOrNull(join(runDir, 'submitted.json'));
  let jobId: string | null = null;
  try {
    jobId = readFileSync(join(runDir, 'jobid'), 'utf8').trim() || null;
  } catch {
    /* not submitted (yet) */
  }
  return {
    n,
    runDir,
    jobId,
    submittedAt: isRecord(v) && typeof v.submittedAt === 'string' ? v.submittedAt : null,
    afterJob: isRecord(v) && typeof v.afterJob === 'string' ? v.afterJob : null,
  };
}

export function submissions(paths: LaunchPaths, id: string): Submission[] {
  return paths.submissions(id).map((n) => readSubmission(paths.runDir(id, n), n));
}

export function markStopped(paths: LaunchPaths, id: string): void {
  writeJsonAtomic(paths.stoppedFile(id), { stoppedAt: new Date().toISOString() }, 0o600);
}

export function stoppedAt(paths: LaunchPaths, id: string): string | null {
  const v = readJsonOrNull(paths.stoppedFile(id));
  return isRecord(v) && typeof v.stoppedAt === 'string' ? v.stoppedAt : null;
}
