// The registration API on the gateway's bare domain (contract/launch.ts): issue a label
// for a launch job, re-issue its one-time token, remove it. A registration is accepted
// only when the scheduler lists the job as pending or running and its comment carries
// sha256 of the secret sent; the route is then bound to the account that owns the job.
// Errors are JSON {"error":{code,message}} and never echo the request.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import {
  API_PREFIX, deleteRequestSchema, jupyterToken, parseComment, randomLabel, registerRequestSchema, reissueRequestSchema, secretHash, type RouteResponse,
} from '../../contract/launch.js';
import type { GatewayConfig } from '../../config/schema-gateway.js';
import { AddressRanges, RateLimiter } from './admission.js';
import type { AuditLog } from './audit-log.js';
import type { JobChecker } from './cluster-jobs.js';
import { routeFingerprint, type Route, type RouteRecord } from './route.js';
import type { RouteMonitor } from './route-monitor.js';
import type { RouteStore } from './route-store.js';
import type { RouteTable } from './route-table.js';
import type { RouteTunnels } from './route-tunnels.js';
import { clientAddress } from './request-routing.js';

export interface RegistrationDeps {
  config: GatewayConfig;
  table: RouteTable;
  store: RouteStore;
  checker: JobChecker;
  monitor: RouteMonitor;
  audit: AuditLog;
  routeUrl(label: string): string;
  version: string;
  /** backend: tunnel: the gateway's tunnel endpoint (a P and a key per route), else null. */
  tunnels: RouteTunnels | null;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new ApiError(413, 'payload_too_large', `the request is larger than ${max} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parse<T extends z.ZodType>(schema: T, text: string): z.infer<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ApiError(400, 'bad_request', 'the body is not JSON');
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new ApiError(400, 'bad_request', `${i.path.map(String).join('.') || '(body)'}: ${i.message}`);
  }
  return r.data;
}

export function registrationApi(d: RegistrationDeps) {
  const ranges = new AddressRanges(d.config.registration.allowFrom);
  const limiter = new RateLimiter(d.config.registration.maxPerMinutePerAddress);

  const response = (route: Route, tunnel?: RouteResponse['tunnel']): RouteResponse => ({
    label: route.record.label,
    url: d.routeUrl(route.record.label),
    owner: route.record.owner,
    mode: d.config.mode,
    ...(tunnel ? { tunnel } : {}),
  });

  /** backend: tunnel: a held P and a fresh key for the route (a previous key of the route is revoked). */
  async function tunnelFor(label: string): Promise<{ tunnel: RouteResponse['tunnel']; port: number | null; publicKey: string | null }> {
    if (!d.tunnels) return { tunnel: undefined, port: null, publicKey: null };
    try {
      const t = await d.tunnels.allocate(label);
      return { tunnel: t.request, port: t.port, publicKey: t.publicKey };
    } catch (err) {
      throw new ApiError(503, 'no_tunnel_port', `the gateway has no tunnel port for this route: ${(err as Error).message}`);
    }
  }

  async function register(text: string, remote: string): Promise<[number, unknown]> {
    const body = parse(registerRequestSchema, text);
    const hash = secretHash(body.secret);
    const existing = d.table.findBySecretHash(hash);
    if (existing && existing.live.endedAt === null) {
      // A retry of the same launch (whoever knows the secret may mint tokens anyway).
      existing.record.tokenHash = body.tokenHash;
      d.store.setToken(existing.record.label, body.tokenHash);
      d.audit.write('token-reissued', { route: routeFingerprint(existing.record.label), owner: existing.record.owner, jobId: existing.record.jobId, remote });
      // The key of the first answer may be lost with it: a new one (the old one stops working).
      const t = await tunnelFor(existing.record.label);
      if (d.tunnels) {
        d.monitor.down(existing, 'the launch registered again: new tunnel key');
        existing.record.tunnelPort = t.port;
        existing.record.tunnelPublicKey = t.publicKey;
        d.store.setTunnel(existing.record.label, t.port, t.publicKey);
      }
      return [200, response(existing, t.tunnel)];
    }
    let check;
    try {
      check = await d.checker.check(body.jobId);
    } catch (err) {
      throw new ApiError(503, 'busy', (err as Error).message);
    }
    const refuse = (why: string): never => {
      d.audit.write('register-refused', { jobId: body.jobId, remote, reason: why });
      throw new ApiError(403, 'forbidden', why);
    };
    if (!check.ok) {
      if (check.unreachable) throw new ApiError(503, 'scheduler_unreachable', `the scheduler did not answer: ${check.error}`);
      return refuse(check.error);
    }
    const job = check.job;
    if (!['pending', 'running', 'completing'].includes(job.state)) refuse(`job ${job.id} is ${job.state}, not queued or running`);
    if (parseComment(job.comment)?.hash !== hash) refuse(`job ${job.id} does not carry this launch's secret (its comment is set when hpc-wrap launch submits it)`);
    if (d.table.countOwner(job.user) >= d.config.registration.maxRoutesPerUser) {
      throw new ApiError(429, 'too_many_routes', `${job.user} has ${d.config.registration.maxRoutesPerUser} live routes already (registration.maxRoutesPerUser); stop one with hpc-wrap stop`);
    }
    let label = randomLabel();
    while (d.table.has(label)) label = randomLabel();
    const t = await tunnelFor(label);
    const record: RouteRecord = {
      label,
      owner: job.user,
      secretHash: hash,
      jupyterToken: jupyterToken(body.secret),
      tokenHash: body.tokenHash,
      cookieHashes: [],
      jobId: job.id,
      createdAt: new Date().toISOString(),
      tunnelPort: t.port,
      tunnelPublicKey: t.publicKey,
    };
    try {
      d.store.insert(record);
    } catch (err) {
      d.tunnels?.end(label);
      throw err;
    }
    const route = d.table.add(record);
    route.live.job = job;
    route.live.verifiedAt = Date.now();
    d.audit.write('issue', { route: routeFingerprint(label), owner: job.user, jobId: job.id, remote });
    d.monitor.wake();
    return [201, response(route, t.tunnel)];
  }

  function reissue(text: string, remote: string): [number, unknown] {
    const body = parse(reissueRequestSchema, text);
    const route = d.table.findBySecretHash(secretHash(body.secret));
    if (!route || route.live.endedAt !== null) throw new ApiError(404, 'not_found', 'no live route for this launch (it ended, or it was never registered)');
    route.record.tokenHash = body.tokenHash;
    d.store.setToken(route.record.label, body.tokenHash);
    d.audit.write('token-reissued', { route: routeFingerprint(route.record.label), owner: route.record.owner, jobId: route.record.jobId, remote });
    return [200, response(route)];
  }

  function remove(text: string, remote: string): [number, unknown] {
    const body = parse(deleteRequestSchema, text);
    const route = d.table.findBySecretHash(secretHash(body.secret));
    if (!route || route.live.endedAt !== null) return [200, { removed: false }];
    d.monitor.end(route, `stopped by its owner (from ${remote})`);
    return [200, { removed: true }];
  }

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const remote = clientAddress(req);
    const path = (req.url ?? '').split('?')[0];
    try {
      if (path === `${API_PREFIX}/health` && req.method === 'GET') return send(res, 200, { ok: true, version: d.version, routes: d.table.size });
      if (req.method !== 'POST') throw new ApiError(405, 'method_not_allowed', 'use POST');
      if (!ranges.allows(remote)) throw new ApiError(403, 'forbidden', `${remote} may not register routes (registration.allowFrom)`);
      if (!limiter.take(remote)) throw new ApiError(429, 'rate_limited', 'too many registration calls from this address; wait a minute');
      const text = await readBody(req, d.config.registration.maxBodyBytes);
      let result: [number, unknown];
      if (path === `${API_PREFIX}/routes`) result = await register(text, remote);
      else if (path === `${API_PREFIX}/routes/token`) result = reissue(text, remote);
      else if (path === `${API_PREFIX}/routes/delete`) result = remove(text, remote);
      else throw new ApiError(404, 'not_found', 'no such endpoint');
      send(res, result[0], result[1]);
    } catch (err) {
      if (err instanceof ApiError) return send(res, err.status, { error: { code: err.code, message: err.message } });
      send(res, 500, { error: { code: 'internal', message: 'internal error' } });
      process.stderr.write(`hpc-bridge gateway: registration failed: ${(err as Error).message}\n`);
    }
  };
}
