// POST /v1/sessions: the body's shape, and the startjob document built from it, checked
// with the SAME schema hpc-wrap applies on the cluster (contract/startjob.ts). Whatever the
// cluster would refuse is refused here with a 400, before a session exists. The document is
// split into what may be stored (no secret) and what stays in memory until the submit.
import { z } from 'zod';
import { describeIssues, startJobRequestSchema, type StartJobInput } from '../../contract/startjob.js';
import type { Profile } from '../../config/schema.js';

export const CREATE_FIELDS = ['user', 'serverName', 'profile', 'env', 'command', 'script', 'webdav'] as const;

/** Only the shape; the rules for each field are the contract's. */
const createBodySchema = z
  .object({
    user: z.unknown(),
    serverName: z.unknown().optional(),
    profile: z.unknown().optional(),
    env: z.unknown().optional(),
    command: z.unknown().optional(),
    script: z.unknown().optional(),
    webdav: z.unknown().optional(),
  })
  .strict();

export type CreateSessionInput = z.infer<typeof createBodySchema>;

export class InvalidRequest extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidRequest';
  }
}

/** The part of the startjob document that holds secrets: kept in memory only, never stored. */
export interface SubmitSecrets {
  env: Record<string, string>;
  webdav: { url?: string; username: string; password: string } | null;
  tunnelPrivateKey: string | null;
}

/** The rest of the document: stored with the session so that a restarted bridge can adopt the job. */
export type SubmitPlan = Omit<StartJobInput, 'env' | 'webdav' | 'tunnel'> & { tunnel: Record<string, unknown> | null };

export interface CheckedRequest {
  user: string;
  serverName: string;
  env: Record<string, string>;
  command: string[];
  script: string | null;
  webdav: SubmitSecrets['webdav'];
}

/** Refuses unknown fields by name (they used to be ignored silently). */
export function parseCreateBody(body: unknown): CreateSessionInput {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new InvalidRequest('the body must be a JSON object');
  const r = createBodySchema.safeParse(body);
  if (!r.success) {
    const unknown = r.error.issues.flatMap((i) => (i.code === 'unrecognized_keys' ? i.keys : []));
    throw new InvalidRequest(
      `unknown field(s) ${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}; the fields are ${CREATE_FIELDS.join(', ')}`,
    );
  }
  if (r.data.user === undefined) throw new InvalidRequest('user: the JupyterHub user name is missing');
  return r.data;
}

/**
 * Builds the startjob document for a new session and validates it as hpc-wrap will.
 * Messages name the field and the rule, never a value (env and webdav hold secrets).
 */
export function checkAgainstContract(input: CreateSessionInput, profile: Profile, sessionId: string): CheckedRequest {
  const script = input.script ?? null;
  const doc = {
    version: 1,
    sessionId,
    user: input.user,
    serverName: input.serverName ?? '',
    env: input.env ?? {},
    command: input.command ?? ['jupyterhub-singleuser'],
    resources: script === null ? profile.resources : null,
    script,
    environment: profile.environment,
    webdav: input.webdav ?? null,
    tunnel: null,
  };
  const r = startJobRequestSchema.safeParse(doc);
  if (!r.success) throw new InvalidRequest(describeIssues(r.error.issues));
  const d = r.data;
  return { user: d.user, serverName: d.serverName, env: d.env, command: d.command, script: d.script ?? null, webdav: d.webdav };
}
