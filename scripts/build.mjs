// Builds the two programs with esbuild:
//  - dist/hpc-wrap.mjs: ONE self-contained file (every dependency inlined, no native
//    module) so an HPC site needs nothing but Node to run it;
//  - dist/hpc-bridge.mjs: the hub-side service; npm dependencies stay external
//    (better-sqlite3 is native and is installed with the package).
import { build } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const banner = {
  js: [
    '#!/usr/bin/env node',
    "import { createRequire as __hpcCreateRequire } from 'node:module';",
    'const require = __hpcCreateRequire(import.meta.url);',
  ].join('\n'),
};
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  banner,
  define: { __HPC_BRIDGE_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
};

await build({ ...common, entryPoints: ['hpc-wrappers/cli.ts'], outfile: 'dist/hpc-wrap.mjs' });
await build({ ...common, entryPoints: ['hub-bridge/cli.ts'], outfile: 'dist/hpc-bridge.mjs', packages: 'external' });
chmodSync('dist/hpc-wrap.mjs', 0o755);
chmodSync('dist/hpc-bridge.mjs', 0o755);
