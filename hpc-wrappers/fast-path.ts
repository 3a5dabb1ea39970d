// The exact command lines the bridge and the batch script write, recognised without yargs:
//   [--config FILE] OP [ID...]            (OP: a command the bridge calls; ids only where it takes them)
//   [--config FILE] agent
//   [--config FILE] start-env --run-dir DIR
//   [--config FILE] batchspawner-singleuser WORDS...   (WORDS: read by batchspawner-singleuser.ts)
// Anything else (another option, --help, a missing value) returns null: the full command
// line parses it, with its messages. Depends on nothing, so that it costs nothing.

export const BRIDGE_OP_NAMES: ReadonlySet<string> = new Set(['startjob', 'jobstate', 'killjob', 'marked-jobs', 'capabilities', 'partitions', 'accounting', 'doctor']);
/** How many positional arguments each takes on the fast path. */
const MAX_POSITIONALS: Record<string, number> = { jobstate: Infinity, accounting: Infinity, killjob: 1 };

export interface FastCommand {
  command: string;
  config: string | undefined;
  args: string[];
  runDir: string | undefined;
}

const isValue = (v: string | undefined): v is string => v !== undefined && v !== '' && !v.startsWith('-');

export function fastPath(argv: readonly string[]): FastCommand | null {
  let i = 0;
  let config: string | undefined;
  if (argv[0] === '--config') {
    if (!isValue(argv[1])) return null;
    config = argv[1];
    i = 2;
  }
  const command = argv[i++];
  if (command === undefined) return null;
  const rest = argv.slice(i);
  if (command === 'start-env') {
    if (rest.length !== 2 || rest[0] !== '--run-dir' || !isValue(rest[1])) return null;
    return { command, config, args: [], runDir: rest[1] };
  }
  // stock batchspawner's batchspawner_singleuser_cmd in every job: the words after it are the server's (and its own options)
  if (command === 'batchspawner-singleuser') return { command, config, args: [...rest], runDir: undefined };
  if (command === 'agent') return rest.length === 0 ? { command, config, args: [], runDir: undefined } : null;
  if (!BRIDGE_OP_NAMES.has(command)) return null;
  if (rest.length > (MAX_POSITIONALS[command] ?? 0) || !rest.every(isValue)) return null;
  return { command, config, args: [...rest], runDir: undefined };
}
