// Builds the two programs with esbuild:
//  - dist/hpc-wrap.mjs: ONE self-contained file (every dependency inlined, no native
//    module) so an HPC site needs nothing but Node to run it;
//  - dist/hpc-bridge.mjs: the hub-side service; npm dependencies stay external
//    (better-sqlite3 is native and is installed with the package). The installable
//    hub-side release (everything inlined but better-sqlite3) is scripts/pack-hub.mjs.
import { build } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';
import { banner, cjsGlobals, inquirerSideEffectFree, noNativeModules } from './build-plugins.mjs';

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
  plugins: [noNativeModules, inquirerSideEffectFree],
});
await build({ ...common, entryPoints: ['hub-bridge/cli.ts'], outfile: 'dist/hpc-bridge.mjs', packages: 'external' });
chmodSync('dist/hpc-wrap.mjs', 0o755);
chmodSync('dist/hpc-bridge.mjs', 0o755);
