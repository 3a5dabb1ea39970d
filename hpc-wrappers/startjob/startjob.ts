// `hpc-wrap startjob`: validate the request, apply the maintenance gate, make the
// per-user directories, write the spool (secrets 0600 in a 0700 dir), submit once per
// session, record the job id, print {jobId, sessionId, runDir}.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resourcesSchema } from '../../config/schema.js';
import type { CommandContext } from '../command-context.js';
import { WrapError } from '../errors.js';
import { unlinkQuiet, writeFileAtomic, writeJsonAtomic } from '../json-files.js';
import { ensureDir, jobNameFor, type SessionPaths } from '../layout.js';
import { selfCommand } from '../self-command.js';
import type { JobSubmission } from '../schedulers/types.js';
import { renderBatchScript } from './batch-script.js';
import type { JobDescription } from './job-description.js';
import { describeIssues, startJobRequestSchema, type StartJobRequest, type StartJobResult } from '../../contract/startjob.js';
import { acquireSessionLock } from './session-lock.js';
import { chooseEnvironment, prepareOverlayDirectory, type EnvironmentChoice } from './environment-choice.js';
import { splitTunnelRequest } from '../../contract/tunnel.js';
import { checkWebdavRequest } from './webdav-request.js';


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

function makeDirectories(ctx: CommandContext, req: StartJobRequest, paths: SessionPaths): string | null {
  const { layout } = ctx;
  ensureDir(layout.workDir, 0o711, { enforce: false });
  ensureDir(layout.usersDir, 0o711, { enforce: false });
  ensureDir(paths.userDir, 0o700);
  ensureDir(join(paths.userDir, 'sessions'), 0o700);
  ensureDir(paths.runDir, 0o700);
  const home = layout.homeDir(req.user);
  if (home) {
    ensureDir(join(home, '..'), 0o711, { enforce: false });
    ensureDir(home, 0o700);
  }
  return home;
}

function writeSpool(ctx: CommandContext, req: StartJobRequest, paths: SessionPaths, home: string | null, choice: EnvironmentChoice): void {
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
    // Behind the tunnel the server listens on the node's loopback only, whatever jupyter.bindAddress says.
    jupyter: { bindAddress: tunnel ? '127.0.0.1' : ctx.config.jupyter.bindAddress, portRange: ctx.config.jupyter.portRange },
    tunnel: tunnel?.spec ?? null,
    webdav: ctx.config.webdav.enabled ? ctx.config.webdav : null,
    logFile: ctx.config.logging.file,
    createdAt: new Date().toISOString(),
  };
  writeJsonAtomic(paths.jobFile, job, 0o600);
}

function writeScript(ctx: CommandContext, req: StartJobRequest, paths: SessionPaths): void {
  const text =
    req.script ??
    renderBatchScript({ hpcWrap: ctx.config.job.hpcWrapCommand ?? selfCommand(), configPath: ctx.configPath, runDir: paths.runDir });
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
  };
}

export async function startJob(ctx: CommandContext, requestText: string): Promise<StartJobResult> {
  const req = parseStartJobRequest(requestText);
  checkMaintenance(ctx, req.user);
  const choice = chooseEnvironment(ctx.config, req);
  checkWebdavRequest(ctx.config.webdav, req);
  const paths = ctx.layout.session(req.user, req.sessionId);
  const home = makeDirectories(ctx, req, paths);
  prepareOverlayDirectory(ctx.config, choice);
  const timeoutMs = ctx.config.scheduler.kind === 'slurm' ? ctx.config.scheduler.timeoutSeconds * 1000 : 30_000;
  const lock = await acquireSessionLock({
    lockFile: paths.lockFile,
    jobIdFile: paths.jobIdFile,
    staleAfterMs: timeoutMs + 60_000,
    waitMs: timeoutMs + 30_000,
  });
  const result = (jobId: string): StartJobResult => ({ jobId, sessionId: req.sessionId, runDir: paths.runDir });
  if (lock.kind === 'done') {
    ctx.log.info('startjob.duplicate', { sessionId: req.sessionId, user: req.user, jobId: lock.jobId });
    return result(lock.jobId);
  }
  try {
    writeSpool(ctx, req, paths, home, choice);
    writeScript(ctx, req, paths);
    const scheduler = ctx.scheduler();
    const { jobId } = await scheduler.submit(submission(ctx, req, paths, home));
    writeFileAtomic(paths.jobIdFile, `${jobId}\n`, 0o600);
    ensureDir(ctx.layout.jobsDir, 0o700, { enforce: false });
    writeJsonAtomic(ctx.layout.jobIndexFile(jobId), { sessionId: req.sessionId, user: req.user, runDir: paths.runDir });
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
    // No job: the secrets must not linger on disk.
    unlinkQuiet(paths.secretsFile);
    unlinkQuiet(paths.jobFile);
    throw err;
  } finally {
    lock.release();
  }
}
