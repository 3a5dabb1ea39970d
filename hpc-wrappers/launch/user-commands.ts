// The user's own commands over their launches: list, status, url, stop, logs, clean.
// Each prints for people, or one JSON document with --json; none prints a secret except
// `url`, whose job is to print the link (or, without a gateway, the notebook's token).
import { existsSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { jupyterToken, parseComment, randomSecret, secretHash, urlWithToken } from '../../contract/launch.js';
import { WrapError } from '../errors.js';
import { followLines, lastLines } from '../logs/log-lines.js';
import { runDirPaths } from '../layout.js';
import { GatewayClient } from './gateway-client.js';
import type { LaunchContext, UserOutcome } from './launch-context.js';
import { markStopped, readLaunchSecret, writeLaunchRecord, writeLaunchSecret } from './launch-record.js';
import { isLive, pickLaunch, viewLaunches, type LaunchView } from './launch-status.js';
import { sshInstructions } from './ssh-instructions.js';

function viewJson(v: LaunchView) {
  return {
    id: v.id,
    state: v.state,
    summary: v.summary,
    createdAt: v.createdAt,
    jobId: v.current?.jobId ?? null,
    node: v.current?.node ?? null,
    port: v.current?.server?.port ?? null,
    position: v.current?.position ?? null,
    estimatedStart: v.current?.estimatedStart ?? null,
    keepAlive: v.keepAlive,
    url: v.url,
    interface: v.record.interface,
    resources: v.record.resources,
    jobs: v.jobs.map((j) => ({ n: j.n, jobId: j.jobId, state: j.state, node: j.node, exitCode: j.exitCode, phase: j.server?.phase ?? null })),
    launchDir: v.launchDir,
  };
}

export async function listCommand(ctx: LaunchContext): Promise<UserOutcome> {
  const views = await viewLaunches(ctx.paths, ctx.paths.ids(), ctx.scheduler());
  const rows = views.map((v) => [v.id, v.current?.jobId ?? '-', v.state, v.keepAlive.max ? `${v.keepAlive.used}/${v.keepAlive.max}` : '-', v.createdAt.slice(0, 16).replace('T', ' '), v.summary]);
  const head = ['LAUNCH', 'JOB', 'STATE', 'KEEP-ALIVE', 'CREATED', 'DETAILS'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  const text = views.length ? [fmt(head), ...rows.map(fmt)].join('\n') : 'No launches. Start one with `hpc-wrap launch` (see `hpc-wrap launch --help`).';
  return { text, json: { launches: views.map(viewJson) } };
}

export async function statusCommand(ctx: LaunchContext, ref: string | undefined): Promise<UserOutcome> {
  const id = pickLaunch(ctx.paths, ref);
  const [v] = await viewLaunches(ctx.paths, [id], ctx.scheduler());
  if (!v) throw new WrapError('internal', `the files of launch ${id} cannot be read`);
  const r = v.record.resources;
  const lines = [
    `Launch ${v.id}: ${v.summary}`,
    `  job:        ${v.current?.jobId ?? '-'}${v.jobs.length > 1 ? ` (submission ${v.current?.n} of ${v.jobs.length})` : ''}`,
    `  asked for:  ${r.cpus} CPU(s)${r.memoryMB !== null ? `, ${+(r.memoryMB / 1024).toFixed(3)} GB` : ''}${r.gpus ? `, ${r.gpus} GPU(s)` : ''}, ${r.walltime}${r.partition ? `, partition ${r.partition}` : ''}`,
    `  interface:  ${v.record.interface} in ${v.record.notebookDir}${v.record.environment ? `, environment ${v.record.environment.name}` : ''}`,
    `  keep-alive: ${v.keepAlive.max ? `${v.keepAlive.used} of ${v.keepAlive.max} resubmissions used` : 'off'}`,
    `  url:        ${v.url ?? '(no gateway: hpc-wrap url shows the ssh command)'}`,
    `  files:      ${v.launchDir}`,
  ];
  if (v.current?.server?.message) lines.push(`  message:    ${v.current.server.message}`);
  return { text: lines.join('\n'), json: viewJson(v) };
}

export interface UrlOptions {
  ref: string | undefined;
  renew: boolean;
  wait: boolean;
  waitSeconds: number;
}

export async function urlCommand(ctx: LaunchContext, o: UrlOptions): Promise<UserOutcome> {
  const id = pickLaunch(ctx.paths, o.ref);
  const scheduler = ctx.scheduler();
  let [v] = await viewLaunches(ctx.paths, [id], scheduler);
  if (!v) throw new WrapError('internal', `the files of launch ${id} cannot be read`);
  const rec = v.record;
  const secret = readLaunchSecret(ctx.paths, id);
  if (rec.gateway) {
    if (rec.gateway.url === null) throw new WrapError('invalid', `launch ${id} was never registered with the gateway (its job was cancelled; see hpc-wrap status ${id})`);
    let routeUrl = rec.gateway.url;
    let token = secret.oneTimeToken;
    if (o.renew || token === null) {
      if (!ctx.config.launch.gateway) throw new WrapError('internal', 'launch.gateway is no longer set in hpc-wrap.yaml: no new link can be made');
      token = randomSecret();
      const route = await new GatewayClient(ctx.config.launch.gateway).reissue({ version: 1, secret: secret.routeSecret, tokenHash: secretHash(token) });
      writeLaunchSecret(ctx.paths, id, { ...secret, oneTimeToken: token });
      if (route.url !== routeUrl) writeLaunchRecord(ctx.paths, { ...rec, gateway: { ...rec.gateway, url: route.url, label: route.label, mode: route.mode } });
      routeUrl = route.url;
      ctx.log.info('launch.url-renewed', { launch: id });
    }
    const url = urlWithToken(routeUrl, token);
    const text = [url, '', o.renew ? 'A new one-time link (the old one no longer works).' : `This link works once. If it was used already: hpc-wrap url --new ${id}`].join('\n');
    return { text, json: { id, url, state: v.state } };
  }
  // No gateway: ssh -L to the node and port.
  const deadline = Date.now() + o.waitSeconds * 1000;
  while (o.wait && v && (v.state === 'queued' || v.state === 'starting' || (v.state === 'running' && !v.current?.node)) && Date.now() < deadline) {
    await sleep(2000);
    [v] = await viewLaunches(ctx.paths, [id], scheduler);
  }
  if (!v || v.state !== 'running' || !v.current?.server?.port) {
    throw new WrapError('invalid', `launch ${id} is ${v?.summary ?? 'unknown'}: the ssh command exists once Jupyter runs${o.wait ? '' : ' (--wait waits for it)'}`);
  }
  const node = v.current.node ?? rec.host;
  const ssh = sshInstructions({ user: rec.user, loginHost: ctx.config.launch.sshHost ?? rec.host, node, port: v.current.server.port, localPort: ctx.config.launch.localPort, bindAddress: rec.bindAddress });
  const token = jupyterToken(secret.routeSecret);
  const text = [
    'On your own computer, run:',
    '',
    `  ${ssh.command}`,
    ...(ssh.alternative ? ['', 'or, if you cannot ssh to compute nodes:', '', `  ${ssh.alternative}`] : []),
    '',
    `then open ${ssh.localUrl} and enter this token (it is the password of your notebook; do not share it):`,
    '',
    `  ${token}`,
  ].join('\n');
  return { text, json: { id, state: v.state, node, port: v.current.server.port, ssh: { argv: ssh.argv, command: ssh.command, alternative: ssh.alternative }, localUrl: ssh.localUrl, token } };
}

export async function stopCommand(ctx: LaunchContext, ref: string | undefined): Promise<UserOutcome> {
  const id = pickLaunch(ctx.paths, ref);
  const scheduler = ctx.scheduler();
  markStopped(ctx.paths, id); // first: a keep-alive timer that fires now submits nothing
  const [v] = await viewLaunches(ctx.paths, [id], scheduler);
  if (!v) throw new WrapError('internal', `the files of launch ${id} cannot be read`);
  const ids = new Set(v.jobs.filter((j) => j.jobId && !['done', 'failed', 'cancelled'].includes(j.state)).map((j) => j.jobId!));
  // A keep-alive successor that is not recorded yet still carries the launch's comment.
  if (scheduler.ownedJobs) {
    const owned = await scheduler.ownedJobs({ users: [ctx.user.name] });
    for (const j of owned.jobs) if (parseComment(j.comment)?.hash === v.record.secretHash && !['done', 'failed', 'cancelled'].includes(j.state)) ids.add(j.id);
  }
  for (const jobId of ids) await scheduler.cancel(jobId);
  const notes: string[] = [];
  if (v.record.gateway && ctx.config.launch.gateway) {
    try {
      await new GatewayClient(ctx.config.launch.gateway).remove({ version: 1, secret: readLaunchSecret(ctx.paths, id).routeSecret });
    } catch (err) {
      notes.push(`the gateway could not be told (${(err as Error).message}); it removes the route when it sees the job end`);
    }
  }
  ctx.log.info('launch.stopped', { launch: id, jobs: [...ids] });
  const text = [`Stopped launch ${id}${ids.size ? ` (cancelled job${ids.size > 1 ? 's' : ''} ${[...ids].join(', ')})` : ' (no job was running)'}.`, ...notes].join('\n');
  return { text, json: { id, cancelled: [...ids], notes } };
}

export interface LogsUserOptions {
  ref: string | undefined;
  follow: boolean;
  lines: number;
}

export async function launchLogsCommand(ctx: LaunchContext, o: LogsUserOptions, json: boolean): Promise<UserOutcome> {
  const id = pickLaunch(ctx.paths, o.ref);
  const subs = ctx.paths.submissions(id);
  if (!subs.length) throw new WrapError('invalid', `launch ${id} has no job yet`);
  const file = runDirPaths(ctx.paths.runDir(id, subs[subs.length - 1]!)).outputLog;
  const { lines, end } = lastLines(file, o.lines, () => true, o.follow);
  if (json && !o.follow) return { json: { id, file, lines } };
  for (const l of lines) process.stdout.write(json ? `${JSON.stringify({ line: l })}\n` : `${l}\n`);
  if (!existsSync(file)) process.stderr.write(`hpc-wrap logs: ${file} does not exist yet (the job has not started)\n`);
  if (o.follow) {
    process.stderr.write(`-- following ${file} (Ctrl-C to stop)\n`);
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      await followLines(file, { from: end, signal: stop.signal, onLine: (l) => process.stdout.write(json ? `${JSON.stringify({ line: l })}\n` : `${l}\n`) });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
  return {};
}

export async function cleanCommand(ctx: LaunchContext, refs: string[], cache: boolean): Promise<UserOutcome> {
  const ids = refs.length ? refs.map((r) => pickLaunch(ctx.paths, r)) : ctx.paths.ids();
  const views = await viewLaunches(ctx.paths, ids, ctx.scheduler());
  const known = new Set(views.map((v) => v.id));
  const removed: string[] = [];
  const kept: { id: string; why: string }[] = [];
  for (const v of views) {
    if (isLive(v)) {
      kept.push({ id: v.id, why: v.schedulerReachable ? `${v.summary}; stop it first (hpc-wrap stop ${v.id})` : 'the scheduler did not answer' });
      continue;
    }
    rmSync(v.launchDir, { recursive: true, force: true });
    removed.push(v.id);
  }
  // Launch dirs that cannot be read at all (an interrupted launch).
  for (const id of ids) {
    if (known.has(id)) continue;
    rmSync(ctx.paths.launchDir(id), { recursive: true, force: true });
    removed.push(id);
  }
  if (cache) rmSync(ctx.paths.condaCacheDir, { recursive: true, force: true });
  const text = [
    removed.length ? `Removed ${removed.length} launch(es): ${removed.join(', ')}` : 'Nothing to remove.',
    ...kept.map((k) => `Kept ${k.id}: ${k.why}`),
    ...(cache ? [`Removed the conda cache ${ctx.paths.condaCacheDir}`] : []),
  ].join('\n');
  return { text, json: { removed, kept, cache } };
}
