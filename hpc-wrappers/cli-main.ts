// hpc-wrap's command line. The commands machines run many times (the bridge's one-shot
// commands, its agent, start-env in every job) in the exact forms they are written take a
// fast path that loads only that command's code; everything else (people's commands, help,
// any other spelling) goes through the full yargs command line, loaded only then. The bundle
// stays one file (scripts/hpc-wrap-bundle.mjs): dynamic imports there only delay evaluation.
import { BRIDGE_OP_NAMES, fastPath } from './fast-path.js';

declare const __HPC_BRIDGE_VERSION__: string | undefined;
const VERSION = typeof __HPC_BRIDGE_VERSION__ === 'string' ? __HPC_BRIDGE_VERSION__ : 'dev';

/**
 * stock batchspawner's command in the job, without the full command line; false when its
 * words are not plain (help, a mistake): the full command line then answers them.
 */
async function batchspawnerSingleuser(config: string | undefined, words: string[]): Promise<boolean> {
  const [{ runStartEnvCommand }, bs] = await Promise.all([import('./start-env/start-env-command.js'), import('./batchspawner-singleuser.js')]);
  let args;
  try {
    args = bs.parseSingleuserArgs(words);
  } catch {
    return false;
  }
  if (args.help || args.command.length === 0) return false;
  const parsed = args;
  await runStartEnvCommand(bs.BATCHSPAWNER_SINGLEUSER, parsed.config ?? config, bs.singleuserOptions(parsed));
  return true;
}

export async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const fast = fastPath(args);
  if (args.length === 1 && args[0] === '--version') {
    process.stdout.write(`${VERSION}\n`);
  } else {
    // zod would compile each object schema into a function (new Function) on its first parse:
    // code generation at run time, and in a short-lived process more work than the parse
    (await import('zod')).config({ jitless: true });
  }
  if (args.length === 1 && args[0] === '--version') {
    // done
  } else if (fast?.command === 'start-env') {
    await (await import('./start-env/start-env-command.js')).runStartEnvCommand('start-env', fast.config, { runDir: fast.runDir, command: [] });
  } else if (fast?.command === 'batchspawner-singleuser' && (await batchspawnerSingleuser(fast.config, fast.args))) {
    // done
  } else if (fast?.command === 'agent') {
    await (await import('./run-op.js')).runAgent(fast.config, VERSION);
  } else if (fast && BRIDGE_OP_NAMES.has(fast.command)) {
    await (await import('./run-op.js')).runOp(fast.command as never, fast.config, fast.args);
  } else {
    await (await import('./cli-commands.js')).runCli();
  }
}
