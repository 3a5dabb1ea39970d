// hpc-bridge's entry: `--version` answers without loading anything; every other command
// loads the command line (cli-commands.ts) and, through it, only the npm packages it
// imports. The build splits the bundle at this dynamic import (scripts/build.mjs).
import { VERSION } from './version.js';

const args = process.argv.slice(2);
if (args.length === 1 && args[0] === '--version') process.stdout.write(`${VERSION}\n`);
else (await import('./cli-commands.js')).runCli();
