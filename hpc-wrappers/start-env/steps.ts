// The environment of the single-user server is built by a pipeline of steps. Each step
// may change the server's env and cwd, claim host/port, wrap the command (a container
// runtime, `module load`, conda, a tunnel agent …) and clean up after the server ends.
// Only the base steps exist now (base-steps.ts); new ones plug in here.
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
  readonly job: JobDescription;
  /** The hub's env for the server (API token …): SECRET, never logged or printed. */
  readonly hubEnv: Readonly<Record<string, string>>;
  /** The tunnel agent's private key from secrets.json: SECRET, for the tunnel step only. */
  readonly tunnelPrivateKey?: string | null;
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

export interface EnvironmentStep {
  readonly name: string;
  prepare(ctx: EnvironmentContext): Promise<void>;
  wrapCommand?(argv: string[], ctx: EnvironmentContext): string[];
  teardown?(ctx: EnvironmentContext): Promise<void>;
}

export class EnvironmentPipeline {
  private prepared: EnvironmentStep[] = [];

  constructor(private readonly steps: readonly EnvironmentStep[]) {}

  async prepare(ctx: EnvironmentContext): Promise<void> {
    for (const step of this.steps) {
      try {
        await step.prepare(ctx);
      } catch (err) {
        throw new Error(`environment step "${step.name}" failed: ${(err as Error).message}`);
      }
      this.prepared.push(step);
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
