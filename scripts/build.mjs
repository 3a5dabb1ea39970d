// Builds the two programs with esbuild:
//  - dist/hpc-wrap.mjs: ONE self-contained file (every dependency inlined, no native
//    module) so an HPC site needs nothing but Node to run it;
//  - dist/hpc-bridge.mjs (+ its hpc-bridge-*.mjs chunks): the hub-side service; npm
//    dependencies stay external (better-sqlite3 is native and is installed with the package).
//    The installable hub-side release (everything inlined but better-sqlite3) is scripts/pack-hub.mjs.
import { build } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';
import { banner, cjsGlobals, inquirerSideEffectFree, noNativeModules, zodEnglishOnly } from './build-plugins.mjs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  banner,
  define: { __HPC_BRIDGE_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
};

await build({
  ...common,
  entryPoints: ['hpc-wrappers/cli.ts'],
  outfile: 'dist/hpc-wrap.mjs',
  banner: { js: `${banner.js}\n${cjsGlobals}` },
  // Every call parses the whole file (start-env in every job, each one-shot command):
  // without comments and indentation it is ~30% smaller, and pure ASCII (a comment with
  // one non-ASCII character makes Node decode it as UTF-8 and V8 parse it as two-byte
  // text). Names stay, so stack traces still read.
  minifyWhitespace: true,
  charset: 'ascii',
  plugins: [noNativeModules, inquirerSideEffectFree, zodEnglishOnly],
});
// hpc-bridge is split at its entry's dynamic import (hub-bridge/cli.ts), so that
// `--version` loads no npm package; the chunks stay next to it in dist/ (code that finds
// files relative to import.meta.url sees the same directory).
await build({
  ...common,
  entryPoints: { 'hpc-bridge': 'hub-bridge/cli.ts' },
  outdir: 'dist',
  splitting: true,
  chunkNames: 'hpc-bridge-[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  packages: 'external',
});
chmodSync('dist/hpc-wrap.mjs', 0o755);
chmodSync('dist/hpc-bridge.mjs', 0o755);
