// `hpc-wrap launch`: resolve the options against the site's defaults and limits, run the
// checklist, write the launch's files under the user's home, submit the job with the
// launch comment, register it with the gateway and print the URL at once (the gateway
// shows a waiting page until Jupyter is ready). Without a gateway: how to reach it by ssh.
import { hostname } from 'node:os';
import { randomSecret, secretHash, urlWithToken } from '../../contract/launch.js';
import { splitTunnelRequest } from '../../contract/tunnel.js';
import { WrapError } from '../errors.js';
import { ensureDir } from '../layout.js';
import { runChecklist } from './checklist.js';
import { GatewayClient } from './gateway-client.js';
import type { LaunchContext } from './launch-context.js';
import { newLaunchId } from './launch-paths.js';
import { markStopped, writeLaunchRecord, writeLaunchSecret, type LaunchRecord } from './launch-record.js';
import { resolveLaunch, type ResolvedLaunch } from './resolve-options.js';
import { submitLaunchJob } from './submit-launch-job.js';

export interface LaunchResult {
  id: string;
  jobId: string;
  /** The URL to open (with its one-time token), or null without a gateway. */
  url: string | null;
  launchDir: string;
  notes: string[];
}

function describeRequest(r: ResolvedLaunch): string {
  const res = r.resources;
  const parts = [`${res.cpus} CPU${res.cpus === 1 ? '' : 's'}`];
  if (res.memoryMB !== null) parts.push(`${+(res.memoryMB / 1024).toFixed(3)} GB`);
  if (res.gpus) parts.push(`${res.gpus} GPU${res.gpus === 1 ? '' : 's'}`);
  parts.push(res.walltime);
  if (res.partition) parts.push(`partition ${res.partition}`);
  return parts.join(', ');
}

export async function launch(ctx: LaunchContext, args: Record<string, unknown>): Promise<{ result: LaunchResult; resolved: ResolvedLaunch; text: string }> {
  const { config: cfg, paths } = ctx;
  const resolved = resolveLaunch({ args, config: cfg, cwd: process.cwd(), home: ctx.user.home, condaCacheDir: paths.condaCacheDir });
  const gw = cfg.launch.gateway;
  const scheduler = ctx.scheduler();
  if (gw && (!scheduler.ownedJobs || !scheduler.setComment)) {
    throw new WrapError('internal', `launch.gateway is set but the ${scheduler.name} scheduler cannot prove who owns a job (scheduler.kind in hpc-wrap.yaml must be slurm)`);
  }
  const notes: string[] = [];
  if (resolved.checklist.enabled) {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    const check = await runChecklist({ cfg, resolved, env });
    notes.push(...check.notes);
    if (check.failures.length) {
      throw new WrapError(
        'invalid',
        `the checklist failed; nothing was submitted:\n${check.failures.map((f) => `  ${f.option}: ${f.message}`).join('\n')}\n(--disable-checklist skips these checks)`,
      );
    }
  }

  paths.ensure();
  const id = newLaunchId();
  ensureDir(paths.launchDir(id), 0o700);
  const routeSecret = randomSecret();
  const rec: LaunchRecord = {
    version: 1,
    id,
    user: ctx.user.name,
    createdAt: new Date().toISOString(),
    host: hostname(),
    configPath: ctx.configPath,
    resources: resolved.resources,
    interface: resolved.interface,
    notebookDir: resolved.notebookDir,
    environment: resolved.environment,
    keepAlive: resolved.keepAlive,
    bindAddress: cfg.launch.bindAddress ?? (gw ? '0.0.0.0' : '127.0.0.1'),
    secretHash: secretHash(routeSecret),
    gateway: gw ? { base: gw.url, label: null, url: null, mode: null } : null,
  };
  writeLaunchSecret(paths, id, { routeSecret, oneTimeToken: null });
  writeLaunchRecord(paths, rec);
  const { jobId } = await submitLaunchJob({ cfg, configPath: ctx.configPath, paths, rec, scheduler, n: 1, afterJob: null });
  ctx.log.info('launch.submitted', { launch: id, jobId, interface: rec.interface, environment: rec.environment?.name ?? null, keepAlive: rec.keepAlive });

  let url: string | null = null;
  if (gw) {
    const token = randomSecret();
    try {
      const route = await new GatewayClient(gw).register({ version: 1, jobId, secret: routeSecret, tokenHash: secretHash(token) });
      // Behind the gateway's tunnel the server listens on the node's loopback only; the
      // tunnel key goes into secret.json (0600), never into launch.json, argv or a log.
      const tunnel = route.tunnel ? splitTunnelRequest(route.tunnel) : null;
      if (tunnel) rec.bindAddress = '127.0.0.1';
      rec.gateway = { base: gw.url, label: route.label, url: route.url, mode: route.mode, tunnel: tunnel?.spec ?? null };
      // The secret first: a job already running waits for the label in launch.json, then reads secret.json.
      writeLaunchSecret(paths, id, { routeSecret, oneTimeToken: token, tunnelPrivateKey: tunnel?.privateKey ?? null });
      writeLaunchRecord(paths, rec);
      url = urlWithToken(route.url, token);
      ctx.log.info('launch.registered', { launch: id, jobId, mode: route.mode, backend: tunnel ? 'tunnel' : 'direct' });
    } catch (err) {
      // Without a route the user cannot reach the notebook: do not leave the job queued.
      markStopped(paths, id);
      await scheduler.cancel(jobId).catch(() => {});
      throw new WrapError((err as WrapError).code ?? 'internal', `${(err as Error).message}; job ${jobId} was cancelled`);
    }
  }
  const result: LaunchResult = { id, jobId, url, launchDir: paths.launchDir(id), notes };
  return { result, resolved, text: humanText(result, resolved) };
}

function humanText(r: LaunchResult, resolved: ResolvedLaunch): string {
  if (resolved.output === 'quiet') return r.url ?? r.id;
  const lines = [`Submitted job ${r.jobId} (launch ${r.id}): ${describeRequest(resolved)}.`];
  for (const n of r.notes) lines.push(`Note: ${n}.`);
  if (r.url) {
    lines.push(
      '',
      'Open this URL in your browser. It works once (do not share it); the page shows the job',
      'while it waits and becomes your notebook when Jupyter is ready:',
      '',
      `  ${r.url}`,
      '',
      `Status: hpc-wrap status ${r.id}    Stop: hpc-wrap stop ${r.id}    A new link: hpc-wrap url --new ${r.id}`,
    );
  } else {
    lines.push(
      '',
      `This site has no gateway: once the job runs, \`hpc-wrap url ${r.id}\` prints the exact ssh command`,
      `for its node and port (\`hpc-wrap url --wait ${r.id}\` waits for it).`,
    );
  }
  lines.push(`Debug files: ${r.launchDir}`);
  return lines.join('\n');
}
