// `hpc-wrap batchspawner-singleuser CMD...`: stock batchspawner's batchspawner_singleuser_cmd.
// batchspawner renders `{{cmd}}` as `<batchspawner_singleuser_cmd> jupyterhub-singleuser
// <Spawner.args>` into the job script, so everything after the command name is the
// server's argv, options included (`--debug`, `--SingleUserNotebookApp.default_url=/lab`):
// none of it may be read as an hpc-wrap option. The CLI therefore stops parsing at the
// command name and this module reads the tail: hpc-wrap's own options only BEFORE the
// server command (or before `--`).
//
// It is start-env plus the `port-report` step (start-env/port-report-step.ts).
import { WrapError } from './errors.js';
import type { StartEnvOptions } from './start-env/start-env.js';

export const BATCHSPAWNER_SINGLEUSER = 'batchspawner-singleuser';

export const BATCHSPAWNER_SINGLEUSER_USAGE = `Usage: hpc-wrap [--config FILE] ${BATCHSPAWNER_SINGLEUSER} [--run-dir DIR] [--] CMD [ARGS...]

Inside a job submitted by stock batchspawner through the bridge (batchspawner_singleuser_cmd):
prepares the environment like start-env (environment steps, the tunnel), runs CMD (e.g.
jupyterhub-singleuser) with JUPYTERHUB_SERVICE_URL set to its address and, once it listens,
POSTs {"port": P} to $JUPYTERHUB_API_URL/batchspawner with the server's API token (retrying
for up to 30 s; a report that fails stops the server). P is the hub-side tunnel port in
tunnel mode, else the server's port.

  --run-dir DIR   the session run dir (default: $HPC_WRAP_RUN_DIR, which startjob sets)
  --config FILE   hpc-wrap.yaml (default: $HPC_WRAP_CONFIG)
Everything from CMD on is passed to the server unchanged.
`;

export interface SingleuserArgs {
  runDir: string | undefined;
  config: string | undefined;
  help: boolean;
  command: string[];
}

/** Reads the words after the command name (`tail` may still start with the name itself). */
export function parseSingleuserArgs(tail: readonly string[]): SingleuserArgs {
  const words = tail[0] === BATCHSPAWNER_SINGLEUSER ? tail.slice(1) : [...tail];
  const out: SingleuserArgs = { runDir: undefined, config: undefined, help: false, command: [] };
  let i = 0;
  const value = (name: string): string => {
    const v = words[++i];
    if (v === undefined || v === '') throw new WrapError('invalid', `${name} needs a value`);
    return v;
  };
  for (; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--') {
      i++;
      break;
    }
    if (!w.startsWith('-')) break;
    if (w === '-h' || w === '--help') out.help = true;
    else if (w === '--run-dir') out.runDir = value(w);
    else if (w.startsWith('--run-dir=')) out.runDir = w.slice('--run-dir='.length);
    else if (w === '--config') out.config = value(w);
    else if (w.startsWith('--config=')) out.config = w.slice('--config='.length);
    else throw new WrapError('invalid', `${BATCHSPAWNER_SINGLEUSER}: unknown option ${JSON.stringify(w)} before the server command (its options go after it)`);
  }
  out.command = words.slice(i);
  return out;
}

/** start-env's options for it: the server's words, and the port-report step last. */
export function singleuserOptions(args: SingleuserArgs): StartEnvOptions {
  return { runDir: args.runDir, command: args.command, reportPortToHub: true };
}
