// The head of the release bundle dist/hpc-wrap.mjs (scripts/hpc-wrap-bundle.mjs): compiles
// the program that follows it in the same file with the user's V8 code cache (why, and the
// rules the cache follows: code-cache.ts). `--version` is answered without compiling it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Script } from 'node:vm';
import { cacheLocation, programText, readCache, writeCache } from './code-cache.js';
import { BRIDGE_OP_NAMES, fastPath } from './fast-path.js';

declare const __HPC_BRIDGE_VERSION__: string | undefined;
/** SHA-256 of the program text, written in by the build. */
declare const __HPC_WRAP_PROGRAM_HASH__: string | undefined;

type ProgramFunction = (exports: object, require: NodeRequire, module: { exports: unknown }, __filename: string, __dirname: string, selfUrl: string) => void;

/** Which cache a call uses: the code paths of cli-main.ts. */
function cacheKind(args: readonly string[]): string {
  const fast = fastPath(args);
  if (fast?.command === 'start-env' || fast?.command === 'agent' || fast?.command === 'batchspawner-singleuser') return fast.command;
  return fast && BRIDGE_OP_NAMES.has(fast.command) ? 'op' : 'cli';
}

async function run(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.length === 1 && args[0] === '--version') {
    process.stdout.write(`${typeof __HPC_BRIDGE_VERSION__ === 'string' ? __HPC_BRIDGE_VERSION__ : 'dev'}\n`);
    return;
  }
  const self = fileURLToPath(import.meta.url);
  // The program is ASCII (the build checks it): latin1 is the cheapest exact decoding.
  const program = programText(readFileSync(self, 'latin1'));
  const loc = typeof __HPC_WRAP_PROGRAM_HASH__ === 'string' ? cacheLocation(__HPC_WRAP_PROGRAM_HASH__, program.length, cacheKind(args)) : null;
  const cachedData = loc ? readCache(loc) : undefined;
  const script = new Script(`(function (exports, require, module, __filename, __dirname, __hpcSelfUrl) {${program}\n})`, { filename: self, cachedData });
  const fn = script.runInThisContext() as ProgramFunction;
  if (loc && (cachedData === undefined || script.cachedDataRejected)) {
    // After the program has run a while, so that the functions it compiled are in the cache;
    // at exit for a short command, after 2 s for a long one (start-env, the agent).
    let saved = false;
    const save = () => {
      if (saved) return;
      saved = true;
      try {
        writeCache(loc, script.createCachedData());
      } catch {
        // no cache this time
      }
    };
    process.once('exit', save);
    setTimeout(save, 2000).unref();
  }
  const mod: { exports: { main?: () => Promise<void> } } = { exports: {} };
  fn(mod.exports, createRequire(self), mod, self, dirname(self), pathToFileURL(self).href);
  if (typeof mod.exports.main !== 'function') throw new Error('hpc-wrap: the program in this file has no main (a damaged copy?); install it again');
  await mod.exports.main();
}

await run();
