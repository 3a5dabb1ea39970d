// Builds the two programs with esbuild:
//  - dist/hpc-wrap.mjs: ONE self-contained file (every dependency inlined, no native
//    module) so an HPC site needs nothing but Node to run it;
//  - dist/hpc-bridge.mjs (+ its hpc-bridge-*.mjs chunks): the hub-side service; npm
//    dependencies stay external (better-sqlite3 is native and is installed with the package);
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

// ssh2 (the tunnel agent) loads optional native code in try/catch: cpu-features and its
// own sshcrypto.node. The bundle replaces them with a module that throws, so ssh2 always
// takes its pure-JS paths (node:crypto), on the cluster and here alike.
const noNativeModules = {
  name: 'no-native-modules',
  setup(b) {
    b.onResolve({ filter: /^cpu-features$|\.node$/ }, (a) => ({ path: a.path, namespace: 'no-native' }));
    b.onLoad({ filter: /.*/, namespace: 'no-native' }, (a) => ({
      contents: `throw new Error(${JSON.stringify(`${a.path}: native modules are not part of the hpc-wrap bundle`)});`,
      loader: 'js',
    }));
  },
};
// @inquirer/prompts (the wizard) declares "sideEffects": false, but its dist/esm/package.json
// hides that from esbuild, so every prompt and the editor's iconv-lite (~700 KB) would be
// bundled and parsed on every hpc-wrap call. Restating it lets the unused prompts go.
const inquirerSideEffectFree = {
  name: 'inquirer-side-effect-free',
  setup(b) {
    b.onResolve({ filter: /^@inquirer\// }, async (a) => {
      if (a.pluginData === 'inquirer-inner') return undefined;
      const r = await b.resolve(a.path, { resolveDir: a.resolveDir, kind: a.kind, importer: a.importer, pluginData: 'inquirer-inner' });
      return r.errors.length ? undefined : { path: r.path, sideEffects: false };
    });
  },
};
// CommonJS dependencies bundled into ESM may read __dirname (ssh2's Windows agent code does).
const cjsGlobals = [
  "import { fileURLToPath as __hpcFileURLToPath } from 'node:url';",
  "import { dirname as __hpcDirname } from 'node:path';",
  'const __filename = __hpcFileURLToPath(import.meta.url);',
  'const __dirname = __hpcDirname(__filename);',
].join('\n');

await build({
  ...common,
  entryPoints: ['hpc-wrappers/cli.ts'],
  outfile: 'dist/hpc-wrap.mjs',
  banner: { js: `${banner.js}\n${cjsGlobals}` },
  plugins: [noNativeModules, inquirerSideEffectFree],
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
