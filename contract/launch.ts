// What crosses between `hpc-wrap launch` (login node), the launch job (compute node) and
// `hpc-bridge gateway` (docs/launch.md): the job comment that binds a job to a route, the
// secrets derived from the route secret, and the gateway's registration API. Both
// programs import this file; neither imports the other.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { tunnelRequestSchema } from './tunnel.js';

/** Bytes of randomness in a route secret, a one-time token and a session cookie. */
export const SECRET_BYTES = 32;
/** Bytes of randomness in a label (128 bits, base32: 26 characters). */
export const LABEL_BYTES = 16;

const B64URL_256 = /^[A-Za-z0-9_-]{43}$/;
export const LABEL_RE = /^[a-z2-7]{26}$/;

/** A fresh random secret (route secret, one-time token, cookie): 256 bits, base64url. */
export function randomSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** Lower-case RFC 4648 base32 without padding (DNS-safe: a label is one DNS name part). */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** A fresh label: 128 random bits as 26 base32 characters. */
export function randomLabel(): string {
  return base32(randomBytes(LABEL_BYTES));
}

/** sha256, base64url: how a secret is stored or published (the comment, the gateway's tables). */
export function secretHash(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/**
 * The token the notebook server requires, derived from the route secret: the job and the
 * gateway compute it; the browser never sees it (the gateway adds it to each request).
 */
export function jupyterToken(routeSecret: string): string {
  return createHmac('sha256', routeSecret).update('hpc-wrap launch: jupyter token v1').digest('hex');
}

export const isSecret = (s: string): boolean => B64URL_256.test(s);

// ---------------------------------------------------------------------------
// The job comment. `launch` submits with `hpcwrap-launch:v1:<hash>`; the job, once it
// knows its port, sets `hpcwrap-launch:v1:<hash>:<port>`. Only the job's owner (or root)
// can set a job's comment, so the gateway trusts (owner, hash, port) read from the scheduler.

export const COMMENT_PREFIX = 'hpcwrap-launch:v1:';

export interface LaunchComment {
  hash: string;
  port: number | null;
}

export function formatComment(hash: string, port: number | null = null): string {
  if (!B64URL_256.test(hash)) throw new Error('formatComment: not a secret hash');
  if (port !== null && !(Number.isInteger(port) && port >= 1 && port <= 65535)) throw new Error(`formatComment: bad port ${port}`);
  return `${COMMENT_PREFIX}${hash}${port === null ? '' : `:${port}`}`;
}

/** The comment of a launch job, or null for anything else (a job's comment is untrusted text). */
export function parseComment(comment: string | null | undefined): LaunchComment | null {
  if (!comment) return null;
  const m = /^hpcwrap-launch:v1:([A-Za-z0-9_-]{43})(?::(\d{1,5}))?$/.exec(comment.trim());
  if (!m) return null;
  const port = m[2] === undefined ? null : Number(m[2]);
  if (port !== null && (port < 1 || port > 65535)) return null;
  return { hash: m[1]!, port };
}

// ---------------------------------------------------------------------------
// `hpc-wrap launch-jobs` (run by the gateway through its transport): the launch jobs of
// some users, or some jobs by id, with owner, comment and queue information.

export const launchJobSchema = z.object({
  id: z.string(),
  user: z.string(),
  state: z.enum(['pending', 'running', 'completing', 'done', 'failed', 'cancelled', 'unknown']),
  node: z.string().nullable(),
  comment: z.string().nullable(),
  position: z.number().int().nullable(),
  estimatedStart: z.string().nullable(),
  reason: z.string().nullable(),
});
export type LaunchJob = z.infer<typeof launchJobSchema>;

export const launchJobsReportSchema = z.object({
  scheduler: z.object({ name: z.string(), reachable: z.boolean(), error: z.string().nullable() }),
  jobs: z.array(launchJobSchema),
});
export type LaunchJobsReport = z.infer<typeof launchJobsReportSchema>;

// ---------------------------------------------------------------------------
// The gateway's registration API (HTTPS, JSON), under /_hpcwrap/v1/. The route secret is
// the proof: the gateway accepts it only when sha256(secret) is in the comment of a live
// job, and then binds the route to that job's owner.

export const API_PREFIX = '/_hpcwrap/v1';

const jobIdField = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.;:-]{0,63}$/, 'a job id');
const secretField = z.string().regex(B64URL_256, 'a route secret (43 base64url characters)');
const hashField = z.string().regex(B64URL_256, 'a sha256 hash (43 base64url characters)');

/** POST /_hpcwrap/v1/routes: issue a label for a job (idempotent for the same secret). */
export const registerRequestSchema = z
  .object({
    version: z.literal(1),
    jobId: jobIdField,
    secret: secretField,
    /** sha256 of the one-time token launch put in the printed URL (the gateway never sees the token before the browser). */
    tokenHash: hashField,
  })
  .strict();
export type RegisterRequest = z.infer<typeof registerRequestSchema>;

/** POST /_hpcwrap/v1/routes/token: a new one-time token for an existing route (`hpc-wrap url --new`). */
export const reissueRequestSchema = z.object({ version: z.literal(1), secret: secretField, tokenHash: hashField }).strict();
export type ReissueRequest = z.infer<typeof reissueRequestSchema>;

/** POST /_hpcwrap/v1/routes/delete: remove the route now (`hpc-wrap stop`). */
export const deleteRequestSchema = z.object({ version: z.literal(1), secret: secretField }).strict();
export type DeleteRequest = z.infer<typeof deleteRequestSchema>;

export const routeResponseSchema = z.object({
  label: z.string().regex(LABEL_RE),
  /** The route's URL without the token (https://<label>.<domain>/ or https://<domain>/<label>/). */
  url: z.string().url(),
  owner: z.string(),
  mode: z.enum(['subdomain', 'path']),
  /**
   * gateway.backend tunnel, at registration only: the job's tunnel spec and the key made
   * for this route (privateKey: SECRET; launch keeps it in secret.json only). The job
   * forwards the gateway's 127.0.0.1:remotePort to its server; a retried registration
   * gets a new key (the old one is revoked).
   */
  tunnel: tunnelRequestSchema.optional(),
});
export type RouteResponse = z.infer<typeof routeResponseSchema>;

export const apiErrorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

/** The query parameter of the one-time token in a printed URL. */
export const TOKEN_PARAM = 'token';

/** The printed URL: the route URL with the one-time token. */
export function urlWithToken(routeUrl: string, token: string): string {
  const u = new URL(routeUrl);
  u.searchParams.set(TOKEN_PARAM, token);
  return u.toString();
}
