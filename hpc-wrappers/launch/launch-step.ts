// The environment step a launch job adds after the base steps (`hpc-wrap launch-env`):
// the server's config (token derived from the route secret, base URL, port) in a 0600
// file, the job's tunnel (spec and key) for the tunnel step when the gateway reaches
// nodes through its tunnel, the node port announced in the job's own comment (where the gateway reads it,
// through the scheduler), and with --keep-alive the successor job, submitted shortly
// before the wall time ends and waiting for this one to end.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatComment, jupyterToken } from '../../contract/launch.js';
import type { HpcWrapConfig } from '../../config/schema.js';
import type { SchedulerAdapter } from '../schedulers/types.js';
import type { EnvironmentContext, EnvironmentStep } from '../start-env/steps.js';
import { removeJupyterConfig, writeJupyterConfig } from './jupyter-config.js';
import { launchOfRunDir, LaunchPaths } from './launch-paths.js';
import { readLaunchRecord, readLaunchSecret, stoppedAt, type LaunchRecord } from './launch-record.js';
import { submitLaunchJob } from './submit-launch-job.js';
import { walltimeSeconds } from './walltime.js';

export interface LaunchStepOptions {
  config: HpcWrapConfig;
  configPath: string | null;
  scheduler: () => SchedulerAdapter;
  /** When the job started (ms since epoch); default: when this process started. */
  jobStartedAt?: number;
  /** How long to wait for `jobid` (launch writes it right after the submit returns). */
  jobIdWaitMs?: number;
}

/** Job id variables of the common schedulers: only a fallback when `jobid` never appears. */
const JOB_ID_VARIABLES = ['SLURM_JOB_ID', 'PBS_JOBID', 'LSB_JOBID', 'JOB_ID'];

async function ownJobId(runDir: string, waitMs: number): Promise<string> {
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      const id = readFileSync(join(runDir, 'jobid'), 'utf8').trim();
      if (id) return id;
    } catch {
      /* not yet */
    }
    if (Date.now() >= until) break;
    await sleep(250);
  }
  for (const v of JOB_ID_VARIABLES) if (process.env[v]) return process.env[v]!;
  throw new Error(`${join(runDir, 'jobid')} did not appear within ${Math.round(waitMs / 1000)} s and the job id is not in the environment`);
}

/**
 * launch.json once `launch` has registered the job with the gateway: the job can start
 * before the registration returns, and in path mode the server's base URL is the label.
 */
async function registeredRecord(paths: LaunchPaths, id: string, waitMs: number): Promise<LaunchRecord> {
  const until = Date.now() + waitMs;
  for (;;) {
    const rec = readLaunchRecord(paths, id);
    if (!rec.gateway || rec.gateway.label !== null) return rec;
    if (stoppedAt(paths, id)) throw new Error('the launch was stopped before the gateway registered it');
    if (Date.now() >= until) throw new Error(`the launch was not registered with the gateway within ${Math.round(waitMs / 1000)} s (hpc-wrap launch gave up?)`);
    await sleep(250);
  }
}

interface State {
  configDir: string;
  timer: NodeJS.Timeout | null;
  successor: Promise<string | null> | null;
  deadline: number;
}

const states = new WeakMap<EnvironmentContext, State>();

export function launchServerStep(opts: LaunchStepOptions): EnvironmentStep {
  return {
    name: 'launch',
    async prepare(ctx) {
      const where = launchOfRunDir(ctx.runDir);
      if (!where) throw new Error(`${ctx.runDir} is not the run dir of a launch (<stateDir>/launches/<id>/jobs/<n>)`);
      const paths = new LaunchPaths(dirname(dirname(where.launchDir)));
      const rec = await registeredRecord(paths, where.id, opts.jobIdWaitMs ?? 60_000);
      const secret = readLaunchSecret(paths, where.id);
      if (ctx.port === null) throw new Error('no port was picked for the server');
      const tunnel = rec.gateway?.tunnel ?? null;
      if (tunnel) {
        // gateway.backend tunnel: the tunnel step (next) forwards the gateway's P to this
        // server, which listens on the node's loopback only.
        if (!secret.tunnelPrivateKey) throw new Error(`the gateway gave this launch a tunnel but ${paths.secretFile(where.id)} holds no tunnel key`);
        ctx.job = { ...ctx.job, tunnel, jupyter: { ...ctx.job.jupyter, bindAddress: '127.0.0.1' } };
        ctx.tunnelPrivateKey = secret.tunnelPrivateKey;
        ctx.host = '127.0.0.1';
      }
      const configDir = writeJupyterConfig(join(ctx.runDir, 'jupyter'), {
        token: jupyterToken(secret.routeSecret),
        baseUrl: rec.gateway?.mode === 'path' ? `/${rec.gateway.label}/` : '/',
        ip: ctx.job.jupyter.bindAddress,
        port: ctx.port,
        notebookDir: rec.notebookDir,
      });
      ctx.env.JUPYTER_CONFIG_DIR = configDir;
      delete ctx.env.JUPYTERHUB_SERVICE_URL; // the base step's; this server is not a hub's
      ctx.cwd = rec.notebookDir;
      const started = opts.jobStartedAt ?? Date.now() - process.uptime() * 1000;
      const state: State = { configDir, timer: null, successor: null, deadline: started + walltimeSeconds(rec.resources.walltime) * 1000 };
      states.set(ctx, state);
      const jobId = await ownJobId(ctx.runDir, opts.jobIdWaitMs ?? 60_000);
      if (rec.gateway) {
        const scheduler = opts.scheduler();
        if (!scheduler.setComment) throw new Error(`the ${scheduler.name} scheduler cannot announce the port to the gateway (launch.gateway in hpc-wrap.yaml needs Slurm)`);
        await scheduler.setComment(jobId, formatComment(rec.secretHash, ctx.port));
        ctx.say(`announced port ${ctx.port} in the comment of job ${jobId} (the gateway reads it through the scheduler)`);
      }
      if (where.n - 1 < rec.keepAlive) scheduleSuccessor(ctx, opts, paths, rec, where.n, jobId, state);
    },
    async teardown(ctx) {
      const state = states.get(ctx);
      if (!state) return;
      states.delete(ctx);
      if (state.timer) clearTimeout(state.timer);
      removeJupyterConfig(state.configDir);
      // Ended well before the wall time (the user quit, or `hpc-wrap stop`): the successor must not run.
      if (state.successor && Date.now() < state.deadline - 30_000) {
        const id = await state.successor;
        if (id) {
          await opts.scheduler().cancel(id).catch(() => {});
          ctx.say(`the session ended before its wall time: cancelled the keep-alive job ${id}`);
        }
      }
    },
  };
}

function scheduleSuccessor(ctx: EnvironmentContext, opts: LaunchStepOptions, paths: LaunchPaths, rec: LaunchRecord, n: number, jobId: string, state: State): void {
  const wall = walltimeSeconds(rec.resources.walltime);
  const lead = Math.min(opts.config.launch.keepAliveLeadSeconds, Math.floor(wall / 2));
  const at = state.deadline - lead * 1000;
  ctx.say(`keep-alive ${n}/${rec.keepAlive + 1}: the next job is submitted at ${new Date(at).toISOString()}, ${lead} s before the wall time ends`);
  state.timer = setTimeout(() => {
    state.timer = null;
    if (stoppedAt(paths, rec.id)) return;
    state.successor = submitLaunchJob({ cfg: opts.config, configPath: opts.configPath, paths, rec, scheduler: opts.scheduler(), n: n + 1, afterJob: jobId }).then(
      (r) => {
        ctx.say(`keep-alive: submitted job ${r.jobId} to continue this session after job ${jobId} (${n}/${rec.keepAlive} resubmissions used)`);
        ctx.log.info('launch.keep-alive', { launch: rec.id, jobId: r.jobId, after: jobId, n: n + 1 });
        return r.jobId;
      },
      (err: Error) => {
        ctx.say(`keep-alive: could not submit the next job: ${err.message}`);
        ctx.log.warn('launch.keep-alive-failed', { launch: rec.id, after: jobId, message: err.message });
        return null;
      },
    );
  }, Math.max(0, at - Date.now()));
  state.timer.unref();
}
