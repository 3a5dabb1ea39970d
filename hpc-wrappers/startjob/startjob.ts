// `hpc-wrap startjob`: validate the request, apply the maintenance gate, make the
// per-user directories, write the spool (secrets 0600 in a 0700 dir), submit once per
// session, record the job id, print {jobId, sessionId, runDir}.
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resourcesSchema } from '../../config/schema-hpc-wrap.js';
import type { CommandContext } from '../command-context.js';
import { WrapError } from '../errors.js';
import { unlinkQuiet, writeFileAtomic, writeJsonAtomic } from '../json-files.js';
import { ensureDir, jobNameFor, SHARED_FILE_MODE, sessionMarker, type SessionPaths } from '../layout.js';
import { selfCommand } from '../self-command.js';
import type { JobSubmission } from '../schedulers/types.js';
import { renderBatchScript } from './batch-script.js';
import { launcherRuns, renderLauncherScript } from '../job-launcher/launcher-script.js';
import type { JobDescription } from './job-description.js';
import { describeIssues, startJobRequestSchema, type StartJobRequest, type StartJobResult } from '../../contract/startjob.js';
import { acquireSessionLock, readJobId } from './session-lock.js';
import { chooseEnvironment, prepareOverlayDirectory, type EnvironmentChoice } from './environment-choice.js';
import { splitTunnelRequest } from '../../contract/tunnel.js';
import { checkWebdavRequest } from './webdav-request.js';
import { schedulerDefinition } from '../schedulers/registry.js';


export function parseStartJobRequest(text: string): StartJobRequest {
  if (!text.trim()) throw new WrapError('invalid', 'stdin is empty: startjob expects one JSON document (docs/contracts.md §2)');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // V8's message quotes the input, which may hold secrets: report the position only.
    const pos = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new WrapError('invalid', `stdin is not a valid JSON document${pos ? ` (error at byte ${pos})` : ''}`);
  }
  const parsed = startJobRequestSchema.safeParse(raw);
  if (!parsed.success) throw new WrapError('invalid', `the startjob request is not valid: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

function checkMaintenance(ctx: CommandContext, user: string): void {
  const m = ctx.config.maintenance;
  if (!m.enabled) return;
  if (m.allowUsers.some((u) => u.normalize('NFC') === user)) {
    ctx.log.info('startjob.maintenance-allowed', { user });
    return;
  }
  throw new WrapError('maintenance', m.message);
}

/**
 * The user's directories. In per-user mode this runs as the student, who must own them
 * (a directory another account made first is refused); the shared parents (users/, homes/)
 * are made once by `hpc-wrap setup` as the service account.
 */
function makeDirectories(ctx: CommandContext, req: StartJobRequest, paths: SessionPaths): string | null {
  const { layout } = ctx;
  const own = { ownedBySelf: true };
  if (!layout.perUser) {
    ensureDir(layout.workDir, 0o711, { enforce: false });
    ensureDir(layout.usersDir, 0o711, { enforce: false });
  } else {
    requireSharedDir(layout.usersDir);
  }
  layout.makeUserDir(paths.userDir);
  layout.makeUserDir(join(paths.userDir, 'sessions'));
  layout.makeUserDir(paths.runDir);
  const home = layout.homeDir(req.user);
  if (home) {
    if (layout.perUser) requireSharedDir(join(home, '..'));
    else ensureDir(join(home, '..'), 0o711, { enforce: false });
    ensureDir(home, 0o700, own);
  }
  return home;
}

function requireSharedDir(dir: string): void {
  if (!existsSync(dir)) {
    throw new WrapError('internal', `${dir} does not exist: run \`hpc-wrap setup\` once as the service account (identity.mode per-user needs it to prepare the shared directories)`);
  }
}

function writeSpool(ctx: CommandContext, req: StartJobRequest, paths: SessionPaths, home: string | null, choice: EnvironmentChoice, gpuVariables: readonly string[]): JobDescription {
  ensureDir(paths.spoolDir, 0o700);
  // The tunnel's private key is secret like env: secrets.json only, never job.json.
  const tunnel = req.tunnel ? splitTunnelRequest(req.tunnel) : null;
  writeJsonAtomic(paths.secretsFile, { env: req.env, tunnelPrivateKey: tunnel?.privateKey ?? null, webdav: req.webdav }, 0o600);
  const job: JobDescription = {
    version: 1,
    sessionId: req.sessionId,
    user: req.user,
    serverName: req.serverName,
    command: req.command,
    home,
    ...choice,
    gpuVariables: [...gpuVariables],
    jupyter: { bindAddress: jobBindAddress(ctx.config.jupyter.bindAddress, { tunnel: tunnel !== null, batchSystem: schedulerDefinition(ctx.config.scheduler.kind).batchSystem }), portRange: ctx.config.jupyter.portRange },
    tunnel: tunnel?.spec ?? null,
    webdav: ctx.config.webdav.enabled ? ctx.config.webdav : null,
    // Per-user mode: the job runs as the student, who logs into their own directory.
    logFile: ctx.layout.perUser ? join(paths.userDir, 'hpc-wrap.log') : ctx.config.logging.file,
    runtime: { perUser: ctx.layout.perUser, jobIdVariable: ctx.scheduler().jobIdVariable, logLevel: ctx.config.logging.level, logFile: ctx.log.file },
    createdAt: new Date().toISOString(),
  };
  writeJsonAtomic(paths.jobFile, job, 0o600);
  return job;
}

/** Schedulers that run a batch script by its `#!` line (Grid Engine and PBS may use the user's login shell). */
const SHEBANG_SCHEDULERS: ReadonlySet<string> = new Set(['slurm', 'fork']);

function writeScript(ctx: CommandContext, req: StartJobRequest, paths: SessionPaths, job: JobDescription): void {
  const input = { hpcWrap: ctx.config.job.hpcWrapCommand ?? selfCommand(), configPath: ctx.configPath, runDir: paths.runDir };
  const byLauncher = ctx.config.job.launcher === 'auto' && SHEBANG_SCHEDULERS.has(ctx.config.scheduler.kind) && launcherRuns(job);
  const text = req.script ?? (byLauncher ? renderLauncherScript(input) : renderBatchScript(input));
  // Owner-only; executable so that the fork adapter can run it as a batch system would.
  writeFileSync(paths.jobScript, text, { mode: 0o700 });
  chmodSync(paths.jobScript, 0o700);
}

function submission(ctx: CommandContext, req: StartJobRequest, paths: SessionPaths, home: string | null): JobSubmission {
  const env: Record<string, string> = { HPC_WRAP_RUN_DIR: paths.runDir };
  if (ctx.configPath) env.HPC_WRAP_CONFIG = ctx.configPath;
  return {
    name: jobNameFor(ctx.config.job.namePrefix, req.user),
    scriptPath: paths.jobScript,
    outputPath: paths.outputLog,
    chdir: req.script ? null : (home ?? paths.runDir),
    // Neither resources nor script: the schema's defaults (1 CPU, 1 hour).
    resources: req.script ? null : (req.resources ?? resourcesSchema.parse({})),
    env,
    marker: sessionMarker(req.sessionId),
  };
}

/** A job an interrupted earlier attempt may have submitted: found by the session's marker. */
async function findEarlierJob(ctx: CommandContext, sessionId: string): Promise<string | null> {
  const marked = await ctx.scheduler().findMarked(sessionMarker(sessionId));
  if (!marked.reachable) throw new WrapError('unreachable', `cannot check whether an earlier attempt submitted a job: ${marked.error ?? 'the scheduler did not answer'}`);
  const mine = marked.jobs.filter((j) => j.marker === sessionMarker(sessionId));
  // Several would be a bug of an older version: keep the first, the reaper cancels the rest.
  return mine[0]?.jobId ?? null;
}

function recordJob(ctx: CommandContext, paths: SessionPaths, jobId: string): void {
  writeFileAtomic(paths.jobIdFile, `${jobId}\n`, SHARED_FILE_MODE);
  unlinkQuiet(paths.attemptFile);
}

export async function startJob(ctx: CommandContext, requestText: string): Promise<StartJobResult> {
  const req = parseStartJobRequest(requestText);
  const paths = ctx.layout.session(req.user, req.sessionId);
  const result = (jobId: string | null): StartJobResult => ({ jobId, sessionId: req.sessionId, runDir: paths.runDir });
  if (ctx.layout.perUser) ctx.log.retarget(join(paths.userDir, 'hpc-wrap.log'), SHARED_FILE_MODE);
  if (req.adoptOnly) return result(await adopt(ctx, req, paths));

  checkMaintenance(ctx, req.user);
  const choice = chooseEnvironment(ctx.config, req);
  checkWebdavRequest(ctx.config.webdav, req);
  const home = makeDirectories(ctx, req, paths);
  prepareOverlayDirectory(ctx.config, choice);
  const scheduler = ctx.scheduler();
  const timeoutMs = scheduler.timeoutMs;
  const lock = await acquireSessionLock({
    lockFile: paths.lockFile,
    jobIdFile: paths.jobIdFile,
    staleAfterMs: timeoutMs + 60_000,
    waitMs: timeoutMs + 30_000,
  });
  if (lock.kind === 'done') {
    ctx.log.info('startjob.duplicate', { sessionId: req.sessionId, user: req.user, jobId: lock.jobId });
    return result(lock.jobId);
  }
  try {
    // An earlier attempt got as far as asking the scheduler, then was killed or timed out:
    // its job may exist. Adopt it rather than submit a second one.
    if (existsSync(paths.attemptFile)) {
      const earlier = await findEarlierJob(ctx, req.sessionId);
      if (earlier) {
        recordJob(ctx, paths, earlier);
        ctx.log.warn('startjob.adopted', { sessionId: req.sessionId, user: req.user, jobId: earlier });
        return result(earlier);
      }
    }
    const job = writeSpool(ctx, req, paths, home, choice, scheduler.gpuVariables);
    writeScript(ctx, req, paths, job);
    writeFileAtomic(paths.attemptFile, `${new Date().toISOString()}\n`, SHARED_FILE_MODE);
    const { jobId } = await scheduler.submit(submission(ctx, req, paths, home));
    recordJob(ctx, paths, jobId);
    ctx.log.info('startjob.submitted', {
      sessionId: req.sessionId,
      user: req.user,
      serverName: req.serverName,
      jobId,
      scheduler: scheduler.name,
      runDir: paths.runDir,
      mode: req.script ? 'script' : 'resources',
      environment: choice.environment?.name ?? null,
    });
    return result(jobId);
  } catch (err) {
    // No job was made, so the secrets must not linger on disk. (After a timeout the job
    // may exist and its start-env needs them: the bridge retries and adopts it, and
    // killjob removes the spool when the session ends.)
    if (!(err instanceof WrapError && err.mayHaveSubmitted)) {
      unlinkQuiet(paths.secretsFile);
      unlinkQuiet(paths.jobFile);
      unlinkQuiet(paths.attemptFile);
    }
    throw err;
  } finally {
    lock.release();
  }
}

/** adoptOnly: the job an earlier attempt submitted (jobid file, else by marker), or null; submits nothing. */
async function adopt(ctx: CommandContext, req: StartJobRequest, paths: SessionPaths): Promise<string | null> {
  const recorded = readJobId(paths.jobIdFile);
  if (recorded) return recorded;
  if (!existsSync(paths.attemptFile)) return null;
  const earlier = await findEarlierJob(ctx, req.sessionId);
  if (earlier) {
    recordJob(ctx, paths, earlier);
    ctx.log.warn('startjob.adopted', { sessionId: req.sessionId, user: req.user, jobId: earlier });
  }
  return earlier;
}

/**
 * Where the job's server listens. Behind the tunnel: the node's loopback only, whatever
 * jupyter.bindAddress says. `auto` without a tunnel: loopback for the fork scheduler (the
 * job runs on this host, the hub reaches it at 127.0.0.1), every address of the node for a
 * batch job (the hub reaches it at the node's address, hub-bridge.yaml cluster.nodeAddress).
 */
export function jobBindAddress(configured: string, where: { tunnel: boolean; batchSystem: boolean }): string {
  if (where.tunnel) return '127.0.0.1';
  if (configured !== 'auto') return configured;
  return where.batchSystem ? '0.0.0.0' : '127.0.0.1';
}
