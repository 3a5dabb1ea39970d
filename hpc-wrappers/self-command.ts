// How to run this very hpc-wrap again (the fork supervisor, and the job script when
// job.hpcWrapCommand is null): the same Node binary and the same file.
import { resolve } from 'node:path';

export function selfCommand(): string[] {
  const script = process.argv[1];
  if (!script) throw new Error('cannot tell which file is running (process.argv[1] is empty)');
  // execArgv carries loaders (e.g. tsx in development); the bundled file has none.
  return [process.execPath, ...process.execArgv, resolve(script)];
}
