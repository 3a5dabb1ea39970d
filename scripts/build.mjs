// Builds the two programs with esbuild:
//  - dist/hpc-wrap.mjs: ONE self-contained file (every dependency inlined, no native
//    module) so an HPC site needs nothing but Node to run it (scripts/hpc-wrap-bundle.mjs);
//  - dist/hpc-bridge.mjs (+ its hpc-bridge-*.mjs chunks): the hub-side service; npm
//    dependencies stay external (better-sqlite3 is native and is installed with the package).
//    The installable hub-side release (everything inlined but better-sqlite3) is scripts/pack-hub.mjs.
import { build } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';
import { banner } from './build-plugins.mjs';
import { buildHpcWrap } from './hpc-wrap-bundle.mjs';

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

await buildHpcWrap('dist/hpc-wrap.mjs', { version: pkg.version });
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
chmodSync('dist/hpc-bridge.mjs', 0o755);
