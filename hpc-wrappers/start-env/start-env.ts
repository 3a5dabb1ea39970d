// `hpc-wrap start-env` (inside the job): consume the spool, build the environment,
// start the server and report its phases in status.json, relay signals, record how it
// ended in exit.json, tear down, exit with the server's status.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AppLog } from '../app-log.js';
import { WrapError } from '../errors.js';
import { writeExitRecord, writeServerStatus } from '../run-dir-files.js';
import { runDirPaths, SHARED_FILE_MODE } from '../layout.js';
import { BASE_STEPS, probeHost } from './base-steps.js';
import { runServer, SignalRelay, signalStatus } from './server-process.js';
import { consumeSpool, type Spool } from './spool.js';
import { ownJobId, recordedOtherJob } from './duplicate-guard.js';
import { scrubStartupSecrets } from './startup-secrets.js';
import { EnvironmentPipeline, lazyStep, PreparationStopped, type EnvironmentContext, type EnvironmentStep } from './steps.js';
import type { StartEnvRuntime } from './start-env-runtime.js';

export interface StartEnvOptions {
  runDir: string | undefined;
  /** The command after `--`; empty = the hub's command from job.json. */
  command: string[];
  steps?: readonly EnvironmentStep[];
  /**
   * `hpc-wrap batchspawner-singleuser`: add the port-report step last (after the tunnel and
   * every environment step); it checks before the server starts and tells stock
   * batchspawner the port once the server listens.
   */
  reportPortToHub?: boolean;
}

/** The steps after the base steps, in order (`hpc-wrap launch-env` puts its own step between). */
/**
 * Each step's module loads only for a job that uses it (the tunnel agent and its SSH
 * library for a tunnel, tar for a conda-pack...): a plain job evaluates none of them.
 */
const tunnelStep = lazyStep('tunnel', (ctx) => ctx.job.tunnel != null, async () => (await import('./tunnel-agent.js')).tunnelStep);
const webdavStep = lazyStep('webdav', (ctx) => ctx.job.webdav?.enabled === true, async () => (await import('./webdav-step.js')).webdavStep);
const modulesStep = lazyStep('modules', (ctx) => ctx.job.environment?.spec.modules != null, async () => (await import('./modules-step.js')).modulesStep);
const condaStep = lazyStep('conda', (ctx) => ctx.job.environment?.spec.conda != null, async () => (await import('./conda-step.js')).condaStep);
const overlayStep = lazyStep('overlay', (ctx) => ctx.job.overlay != null, async () => (await import('./overlay-step.js')).overlayStep);
/** `batchspawner-singleuser`'s last step (node:http and node:https load only for it). */
const portReportStep = lazyStep('port-report', () => true, async () => (await import('./port-report-step.js')).portReportStep);
const containerStep = lazyStep('container', (ctx) => ctx.job.environment?.spec.container != null, async () => (await import('./container-step.js')).containerStep);
export const ENVIRONMENT_STEPS: readonly EnvironmentStep[] = [tunnelStep, webdavStep, modulesStep, condaStep, overlayStep, containerStep];

function say(line: string): void {
  process.stderr.write(`[hpc-wrap start-env ${new Date().toISOString()}] ${line}\n`);
}

/** The run dir of `--run-dir DIR`, else $HPC_WRAP_RUN_DIR (absolute; it must exist). */
export function startEnvRunDir(given: string | undefined): string {
  const dir = given ?? process.env.HPC_WRAP_RUN_DIR;
  if (!dir) throw new WrapError('invalid', 'start-env needs the run dir: --run-dir DIR or $HPC_WRAP_RUN_DIR');
  const runDir = resolve(dir);
  if (!existsSync(runDir)) throw new WrapError('invalid', `the run dir ${runDir} does not exist`);
  return runDir;
}

export async function startEnv(rt: StartEnvRuntime, opts: StartEnvOptions): Promise<number> {
  const runDir = startEnvRunDir(opts.runDir);
  // Per-user mode: this runs as the student, who cannot write the service account's log.
  if (rt.perUser) rt.log.retarget(join(runDirPaths(runDir).userDir, 'hpc-wrap.log'), SHARED_FILE_MODE);

  const jobIdVariable = rt.jobIdVariable();
  const other = await recordedOtherJob(runDir, jobIdVariable);
  if (other !== null) {
    say(`this job (${ownJobId(jobIdVariable)}) is a duplicate: the session's job is ${other}; leaving without touching the session`);
    rt.log.warn('start-env.duplicate', { runDir, job: ownJobId(jobIdVariable), recorded: other });
    return 0;
  }

  const relay = new SignalRelay();
  relay.install();
  let spool: Spool;
  try {
    spool = consumeSpool(runDir);
  } catch (err) {
    writeServerStatus(runDir, { phase: 'exited', host: null, port: null, message: (err as Error).message });
    writeExitRecord(runDir, { exitCode: 1, signal: null, error: (err as Error).message });
    throw new WrapError('internal', (err as Error).message);
  }
  const { job, hubEnv, tunnelPrivateKey, webdavCredentials } = spool;
  const log = job.logFile ? new AppLog(job.logFile, rt.logLevel, 'hpc-wrap start-env') : rt.log;
  if (job.logFile && rt.perUser) log.retarget(job.logFile, SHARED_FILE_MODE);
  // Notices (e.g. "your overlay was recreated") stay in status.json's message until the server exits.
  const notices: string[] = [];
  const noticeText = (): string | null => (notices.length ? notices.join(' ') : null);
  const env: EnvironmentContext = {
    runDir, job, hubEnv, tunnelPrivateKey, webdavCredentials, env: {}, cwd: process.cwd(), host: null, port: null, overlay: null, containerBinds: [], log, say,
    notice(line) {
      notices.push(line);
      say(line);
      log.info('start-env.notice', { sessionId: job.sessionId, user: job.user, message: line });
      writeServerStatus(runDir, { phase: 'environment', host: env.host, port: env.port, message: noticeText() });
    },
  };
  // Wrappers nest in list order: a step's wrapCommand listed before the container step runs
  // inside the container, one listed after it outside (env changes reach the server either way).
  // The tunnel agent runs in this process (not in the container); it goes right after the
  // port step so the hub API URLs it rewrites are in env before later steps read env.
  // Every step's check runs before the first prepare (steps.ts): a wrong conda file is
  // reported before a WebDAV mount or `module load` is tried.
  const steps = opts.steps ?? [...BASE_STEPS, ...ENVIRONMENT_STEPS];
  const pipeline = new EnvironmentPipeline(opts.reportPortToHub ? [...steps, portReportStep] : steps);
  const fail = async (message: string, status: number, signal: NodeJS.Signals | null = null): Promise<number> => {
    say(message);
    writeExitRecord(runDir, { exitCode: signal ? null : status, signal, error: message });
    writeServerStatus(runDir, { phase: 'exited', host: env.host, port: env.port, message });
    log.error('start-env.failed', { sessionId: job.sessionId, user: job.user, message });
    await pipeline.teardown(env);
    relay.uninstall();
    return status;
  };

  writeServerStatus(runDir, { phase: 'environment', host: null, port: null, message: null });
  say(`preparing the environment${job.environment ? ` "${job.environment.name}"` : ''} for session ${job.sessionId}`);
  try {
    await pipeline.prepare(env, relay.ending);
  } catch (err) {
    if (err instanceof PreparationStopped) return fail(err.message, signalStatus(err.signal), err.signal);
    return fail((err as Error).message, 1);
  }
  const early = relay.received[0];
  if (early) return fail(`received ${early} before the server started`, signalStatus(early), early);

  const argv = pipeline.wrap(opts.command.length ? opts.command : job.command, env);
  const scrubbed = scrubStartupSecrets(env);
  if (scrubbed.length) say(`removed ${scrubbed.join(', ')} from the server's environment (they held a start-up secret)`);
  writeServerStatus(runDir, { phase: 'starting', host: env.host, port: env.port, message: noticeText() });
  say(`starting ${argv[0]} on ${env.host ?? '?'}:${env.port ?? '?'}`);
  log.info('start-env.starting', { sessionId: job.sessionId, user: job.user, host: env.host, port: env.port, program: argv[0] });

  // A step's work once the server listens (the port report to stock batchspawner); if it
  // fails, the server is stopped and the job ends with that reason, not "killed by SIGTERM".
  let afterListening: Promise<void> = Promise.resolve();
  let listeningFailure: string | null = null;
  const exit = await runServer({
    argv,
    env: env.env,
    cwd: env.cwd,
    relay,
    probe: env.port !== null ? { host: probeHost(job.jupyter.bindAddress), port: env.port } : null,
    onListening: () => {
      say(`the server is listening on ${env.host}:${env.port}`);
      // "listening" in status.json (what the bridge makes "ready" of) only once the steps'
      // listening work is done: a server whose port report failed is never shown ready
      afterListening = pipeline.listening(env).then(
        () => {
          writeServerStatus(runDir, { phase: 'listening', host: env.host, port: env.port, message: noticeText() });
          log.info('start-env.listening', { sessionId: job.sessionId, host: env.host, port: env.port });
        },
        (err: unknown) => {
          listeningFailure = (err as Error).message;
          relay.stopServer();
        },
      );
    },
  });
  await afterListening;
  if (listeningFailure !== null) return fail(listeningFailure, 1);
  const how = exit.error ?? (exit.signal ? `the server was killed by ${exit.signal}` : `the server exited with status ${exit.exitCode}`);
  writeExitRecord(runDir, { exitCode: exit.exitCode, signal: exit.signal, error: exit.error });
  writeServerStatus(runDir, { phase: 'exited', host: env.host, port: env.port, message: how });
  say(how);
  log.info('start-env.exited', { sessionId: job.sessionId, exitCode: exit.exitCode, signal: exit.signal });
  await pipeline.teardown(env);
  relay.uninstall();
  return exit.status;
}
