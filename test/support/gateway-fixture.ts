// A real gateway (HTTPS, self-signed certificate made with openssl) in-process, for tests
// and benchmarks, with the scheduler's answers either real (hpc-wrap launch-jobs through a
// transport) or scripted (`ScriptedJobs`, a STAND-IN for `hpc-wrap launch-jobs` in unit
// tests of the gateway's own logic: it returns documents of the contract's shape). Plus a
// client for HTTPS requests with a chosen Host header and an upgrade helper.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { stringify } from 'yaml';
import { loadHubBridgeConfig } from '../../config/load.js';
import type { LaunchJob, LaunchJobsReport } from '../../contract/launch.js';
import type { ClusterJobs } from '../../hub-bridge/gateway/cluster-jobs.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../hub-bridge/gateway/gateway.js';

/** A self-signed certificate for gw.test, *.gw.test and 127.0.0.1 (openssl, argv only). */
export function selfSignedCert(dir: string, domain = 'gw.test'): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${domain}`,
    '-addext', `subjectAltName=DNS:${domain},DNS:*.${domain},IP:127.0.0.1`, '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { cert, key };
}

/** Scheduler answers scripted by the test (a stand-in for `hpc-wrap launch-jobs`). */
export class ScriptedJobs implements ClusterJobs {
  jobs: LaunchJob[] = [];
  reachable = true;
  calls: { users: string[]; ids: string[] }[] = [];
  /** How long one answer takes (a real squeue over SSH takes tens to hundreds of ms). */
  delayMs = 20;

  async query(users: string[], ids: string[]): Promise<LaunchJobsReport> {
    this.calls.push({ users, ids });
    await new Promise((r) => setTimeout(r, this.delayMs));
    if (!this.reachable) return { scheduler: { name: 'slurm', reachable: false, error: 'slurm_load_jobs error: Unable to contact slurm controller' }, jobs: [] };
    const jobs = this.jobs.filter((j) => (ids.length ? ids.includes(j.id) : users.includes(j.user)));
    return { scheduler: { name: 'slurm', reachable: true, error: null }, jobs: jobs.map((j) => ({ ...j })) };
  }

  set(id: string, patch: Partial<LaunchJob>): void {
    const j = this.jobs.find((x) => x.id === id);
    if (j) Object.assign(j, patch);
    else this.jobs.push({ id, user: 'alice', state: 'pending', node: null, comment: null, position: null, estimatedStart: null, reason: null, ...patch });
  }
}

export interface GatewayFixture {
  gateway: Gateway;
  dir: string;
  cert: string;
  domain: string;
  close(): Promise<void>;
}

export async function gatewayFixture(gw: Record<string, unknown> = {}, opts: GatewayOptions = {}, cluster: Record<string, unknown> = {}): Promise<GatewayFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'gw-test-'));
  const { cert, key } = selfSignedCert(dir);
  const file = join(dir, 'hub-bridge.yaml');
  writeFileSync(
    file,
    stringify({
      cluster: { hpcWrap: ['/bin/false'], ...cluster },
      gateway: {
        listen: { host: '127.0.0.1', port: 0 },
        tls: { certFile: cert, keyFile: key },
        domain: 'gw.test',
        stateDir: join(dir, 'state'),
        pollIntervalSeconds: 0.3,
        startingPollIntervalSeconds: 0.1,
        ...gw,
      },
    }),
  );
  const gateway = await startGateway(loadHubBridgeConfig(file), opts);
  return { gateway, dir, cert, domain: 'gw.test', close: () => gateway.close() };
}

export interface HttpsReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTPS request to 127.0.0.1:port with the given Host (no DNS needed). */
export function httpsTo(port: number, ca: string, opts: { host: string; path?: string; method?: string; headers?: Record<string, string>; body?: string }): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path: opts.path ?? '/', method: opts.method ?? 'GET', servername: opts.host.replace(/:\d+$/, ''), ca, headers: { host: opts.host, ...(opts.headers ?? {}) }, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** An HTTPS Upgrade: websocket request; resolves with the status line and, on 101, the socket. */
export function upgradeTo(port: number, ca: string, opts: { host: string; path: string; headers?: Record<string, string> }): Promise<{ status: number; socket: Socket | null; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1', port, path: opts.path, servername: opts.host.replace(/:\d+$/, ''), ca, agent: false,
      headers: { host: opts.host, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...(opts.headers ?? {}) },
    });
    req.on('upgrade', (res, socket) => resolve({ status: res.statusCode ?? 0, socket: socket as Socket, headers: res.headers }));
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, socket: null, headers: res.headers });
    });
    req.on('error', (err) => {
      // the gateway may close the connection right after a refusal line
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET') resolve({ status: 0, socket: null, headers: {} });
      else reject(err);
    });
    req.end();
  });
}
