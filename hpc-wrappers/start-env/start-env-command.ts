// How `start-env` and `batchspawner-singleuser` run: from the runtime job.json carries when
// it has one (no hpc-wrap.yaml read: start-env-runtime.ts), else from the config's context.
// Failures are reported like every command's (failure-report.ts).
import { reportFailure } from '../failure-report.js';
import { startEnv, startEnvRunDir, type StartEnvOptions } from './start-env.js';
import { runtimeFromContext, runtimeFromJob, type StartEnvRuntime } from './start-env-runtime.js';

export async function runStartEnvCommand(command: string, configFlag: string | undefined, opts: StartEnvOptions): Promise<void> {
  let rt: StartEnvRuntime | null = null;
  try {
    rt = runtimeFromJob(startEnvRunDir(opts.runDir), command);
  } catch {
    // no usable run dir: the config's path below reports it
  }
  if (!rt) {
    const { runCommand } = await import('../command-context.js');
    await runCommand(command, configFlag, async (ctx) => ({ exitCode: await startEnv(runtimeFromContext(ctx), opts) }));
    return;
  }
  try {
    process.exitCode = await startEnv(rt, opts);
  } catch (err) {
    process.exitCode = reportFailure(command, err, rt.log);
  }
}
