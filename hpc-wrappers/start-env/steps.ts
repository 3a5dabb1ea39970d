// The environment of the single-user server is built by a pipeline of steps. Each step
// may check its configuration up front, change the server's env and cwd, claim host/port,
// wrap the command (a container runtime, `module load`, conda, a tunnel agent …) and clean
// up after the server ends. start-env.ts lists the steps and their order.
import type { BindSpec } from '../../config/schema-container.js';
import type { WebdavCredentials } from '../../config/schema-webdav.js';
import type { AppLog } from '../app-log.js';
import type { JobDescription } from '../startjob/job-description.js';

/** The overlay image the container runtime mounts (set by the overlay step). */
export interface OverlayMount {
  path: string;
  readOnly: boolean;
}

export interface EnvironmentContext {
  readonly runDir: string;
  /** From the spool; a launch behind the gateway's tunnel gets its `tunnel` from the launch step (launch-step.ts). */
  job: JobDescription;
  /** The hub's env for the server (API token …): SECRET, never logged or printed. */
  readonly hubEnv: Readonly<Record<string, string>>;
  /** The tunnel agent's private key from secrets.json (or the launch's secret.json): SECRET, for the tunnel step only. */
  tunnelPrivateKey?: string | null;
  /** The spawn's WebDAV credentials from secrets.json: SECRET, for the WebDAV step only. */
  readonly webdavCredentials?: WebdavCredentials | null;
  /** The server's environment, built up by the steps. */
  env: Record<string, string>;
  cwd: string;
  /** Where the server listens (set by the port step). */
  host: string | null;
  port: number | null;
  /** The user's overlay for the container step (set by the overlay step), or null. */
  overlay: OverlayMount | null;
  /** Binds other steps need inside a container (e.g. a WebDAV mount point); the container step adds them. */
  containerBinds: BindSpec[];
  readonly log: AppLog;
  /** A progress line for the job output (never pass secrets). */
  say(line: string): void;
  /** Something the student should know: the job output AND status.json's message (the bridge shows it). */
  notice(line: string): void;
}

/**
 * One step of the server's environment. To implement one:
 *
 * - `check(ctx)` (optional): what can be checked without slow work (files exist, a URL is
 *   allowed); throws with a message that starts with the config key at fault. The pipeline
 *   runs EVERY step's check, in list order, before the FIRST step prepares, so a mistake in
 *   a late step is reported before an early one mounts, loads modules or unpacks anything.
 * - `prepare(ctx)`: do the work, in list order; changes ctx.env / cwd / host / port.
 * - `wrapCommand(argv, ctx)` (optional): wrap the server's argv; wrappers nest in list order
 *   (a step listed before the container step runs inside the container).
 * - `listening(ctx)` (optional): once the server accepts connections, in list order (e.g.
 *   telling stock batchspawner the port only when the hub's first look will find the
 *   server); a failure stops the server and the job fails with its message.
 * - `teardown(ctx)` (optional): undo, in reverse order, for the steps that prepared.
 */
export interface EnvironmentStep {
  readonly name: string;
  check?(ctx: EnvironmentContext): void | Promise<void>;
  prepare(ctx: EnvironmentContext): Promise<void>;
  wrapCommand?(argv: string[], ctx: EnvironmentContext): string[];
  listening?(ctx: EnvironmentContext): Promise<void>;
  teardown?(ctx: EnvironmentContext): Promise<void>;
}

/** The job was told to end (SIGTERM, SIGINT or SIGHUP) while a step was preparing. */
export class PreparationStopped extends Error {
  constructor(
    readonly signal: NodeJS.Signals,
    readonly step: string,
  ) {
    super(`received ${signal} while the environment step "${step}" was preparing; the server was not started`);
    this.name = 'PreparationStopped';
  }
}

export class EnvironmentPipeline {
  private prepared: EnvironmentStep[] = [];

  constructor(private readonly steps: readonly EnvironmentStep[]) {}

  /** Checks, then prepares the steps in order; `stop` (a job-ending signal) ends the wait for the step in progress. */
  async prepare(ctx: EnvironmentContext, stop?: Promise<NodeJS.Signals>): Promise<void> {
    for (const step of this.steps) {
      try {
        await step.check?.(ctx);
      } catch (err) {
        throw new Error(`environment step "${step.name}" failed its check: ${(err as Error).message}`);
      }
    }
    for (const step of this.steps) {
      const work = step.prepare(ctx);
      try {
        const stopped = stop ? await Promise.race([work.then(() => null), stop.then((signal) => ({ signal }))]) : await work.then(() => null);
        if (stopped) {
          // The job is being ended: the step in progress (e.g. a tunnel still waiting for its
          // first connection) is torn down now instead of holding the job until its SIGKILL.
          work.catch(() => undefined);
          await Promise.resolve(step.teardown?.(ctx)).catch(() => undefined);
          throw new PreparationStopped(stopped.signal, step.name);
        }
      } catch (err) {
        if (err instanceof PreparationStopped) throw err;
        throw new Error(`environment step "${step.name}" failed: ${(err as Error).message}`);
      }
      this.prepared.push(step);
    }
  }

  /** The prepared steps' `listening`, in list order (the server accepts connections now). */
  async listening(ctx: EnvironmentContext): Promise<void> {
    for (const step of this.prepared) {
      try {
        await step.listening?.(ctx);
      } catch (err) {
        throw new Error(`environment step "${step.name}" failed: ${(err as Error).message}`);
      }
    }
  }

  wrap(argv: string[], ctx: EnvironmentContext): string[] {
    return this.prepared.reduce((cmd, step) => (step.wrapCommand ? step.wrapCommand(cmd, ctx) : cmd), argv);
  }

  /** Tears the prepared steps down in reverse order; a failing teardown does not stop the others. */
  async teardown(ctx: EnvironmentContext): Promise<void> {
    for (const step of [...this.prepared].reverse()) {
      try {
        await step.teardown?.(ctx);
      } catch (err) {
        ctx.say(`teardown of "${step.name}" failed: ${(err as Error).message}`);
      }
    }
    this.prepared = [];
  }
}

/** `(environment "lab" in hpc-wrap.yaml)`: where the key a check names lives. */
export function inEnvironment(ctx: Pick<EnvironmentContext, 'job'>): string {
  return ` (environment "${ctx.job.environment?.name ?? '?'}" in hpc-wrap.yaml)`;
}

/**
 * A step whose module loads only for a job that needs it (`needed`, checked when the
 * pipeline first reaches it): every job would otherwise pay for evaluating, e.g., the
 * tunnel agent's SSH library before its server starts.
 */
export function lazyStep(name: string, needed: (ctx: EnvironmentContext) => boolean, load: () => Promise<EnvironmentStep>): EnvironmentStep {
  let step: EnvironmentStep | null = null;
  // Asked at each phase, not once: an earlier step may make it needed (the launch step hands
  // the tunnel spec to the job after the pre-flight checks ran).
  const get = async (ctx: EnvironmentContext): Promise<EnvironmentStep | null> => step ?? (needed(ctx) ? (step = await load()) : null);
  return {
    name,
    async check(ctx) {
      await (await get(ctx))?.check?.(ctx);
    },
    async prepare(ctx) {
      await (await get(ctx))?.prepare(ctx);
    },
    wrapCommand: (argv, ctx) => step?.wrapCommand?.(argv, ctx) ?? argv,
    async listening(ctx) {
      await step?.listening?.(ctx);
    },
    async teardown(ctx) {
      await step?.teardown?.(ctx);
    },
  };
}
