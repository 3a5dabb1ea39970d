// esbuild pieces shared by scripts/build.mjs (the two bundles) and scripts/pack-hub.mjs
// (the hub-side release): the banner that gives ESM bundles `require`, and the plugins.
export const banner = {
  js: [
    '#!/usr/bin/env node',
    "import { createRequire as __hpcCreateRequire } from 'node:module';",
    'const require = __hpcCreateRequire(import.meta.url);',
  ].join('\n'),
};

// CommonJS dependencies bundled into ESM may read __dirname (ssh2's Windows agent code does).
export const cjsGlobals = [
  "import { fileURLToPath as __hpcFileURLToPath } from 'node:url';",
  "import { dirname as __hpcDirname } from 'node:path';",
  'const __filename = __hpcFileURLToPath(import.meta.url);',
  'const __dirname = __hpcDirname(__filename);',
].join('\n');

// ssh2 (the tunnel agent) loads optional native code in try/catch: cpu-features and its
// own sshcrypto.node. The bundle replaces them with a module that throws, so ssh2 always
// takes its pure-JS paths (node:crypto), on the cluster and here alike.
export const noNativeModules = {
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
export const inquirerSideEffectFree = {
  name: 'inquirer-side-effect-free',
  setup(b) {
    b.onResolve({ filter: /^@inquirer\// }, async (a) => {
      if (a.pluginData === 'inquirer-inner') return undefined;
      const r = await b.resolve(a.path, { resolveDir: a.resolveDir, kind: a.kind, importer: a.importer, pluginData: 'inquirer-inner' });
      return r.errors.length ? undefined : { path: r.path, sideEffects: false };
    });
  },
};

// zod re-exports every one of its ~50 message locales (`z.locales`, ~400 KB) although it
// sets and uses only English; nothing here switches locale. Each hpc-wrap call (start-env
// in every job) would parse them, so hpc-wrap's bundle gets English only.
export const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({ contents: 'export { default as en } from "./en.js";\n', loader: 'js' }));
  },
};
