// Builds hpc-wrap's ONE self-contained file (used by build.mjs and pack-hub.mjs):
//   1. the program (hpc-wrappers/cli-main.ts with every dependency inlined, no native
//      module) as one CommonJS function body, without comments or indentation, ASCII only;
//   2. the loader (hpc-wrappers/code-cache-loader.ts) as the ESM head of the file;
//   3. the program appended in a block comment (its `*/` escaped), which the loader compiles
//      with a V8 code cache (hpc-wrappers/code-cache.ts says why and how). V8 skips the
//      comment when Node loads the file, so a call pays a code-cache load instead of a parse;
//   4. the job launcher's Python text in a last comment, and a /bin/sh head (shellHead).
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { inquirerSideEffectFree, noNativeModules, zodEnglishOnly } from './build-plugins.mjs';

// The same text as BODY_MARKER / ESCAPED_END in hpc-wrappers/code-cache.ts.
const BODY_MARKER = '\n/*hpc-wrap-program\n';
const ESCAPED_END = '*\x01/';

// The job launcher (hpc-wrappers/job-launcher/: its files joined as launcher-script.ts
// joinLauncherFiles does) as plain text at the end of the file, in a block comment, for
// `hpc-wrap batchspawner-singleuser` (below). start-env.test.ts checks the two agree.
const LAUNCHER_DIR = 'hpc-wrappers/job-launcher';
const LAUNCHER_FILES = ['ssh_tunnel.py', 'start_job.py'];
const LAUNCHER_MARKER = '\n/*hpc-wrap-launcher\n';
const LAUNCHER_END = '\n#end-hpc-wrap-launcher\n';

/**
 * The file's first two lines, read by /bin/sh when the file is run as a program and by Node
 * as a hashbang and a string statement followed by a comment. sh runs Node on the file (what
 * `#!/usr/bin/env node` did), except for `hpc-wrap batchspawner-singleuser ...`, the command
 * stock batchspawner puts in each job: that runs the launcher from the end of this file in
 * the node's python3 when there is one, so that the job starts no Node before its server
 * (issue 10); the launcher hands anything it does not run to Node itself.
 */
function shellHead() {
  const loader = `import sys;t=open(sys.argv[2],encoding="latin-1").read();i=t.rindex(${JSON.stringify(LAUNCHER_MARKER)})+${LAUNCHER_MARKER.length};exec(compile(t[i:t.index(${JSON.stringify(LAUNCHER_END)},i)],"start_job.py","exec"))`;
  if (loader.includes("'")) throw new Error('the launcher loader must not contain a single quote');
  return [
    '#!/bin/sh',
    `":" //; case "$1" in batchspawner-singleuser) for py in /usr/bin/python3 python3; do command -v "$py" >/dev/null 2>&1 && exec "$py" -E -s -S -c '${loader}' --singleuser "$0" "$@"; done;; esac; exec node "$0" "$@"`,
  ].join('\n');
}

export async function buildHpcWrap(outfile, { version, absWorkingDir = process.cwd() }) {
  const launcher = LAUNCHER_FILES.map((name) => `# --- ${name}\n${readFileSync(join(absWorkingDir, LAUNCHER_DIR, name), 'utf8')}`).join('\n');
  const common = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    define: { __HPC_BRIDGE_VERSION__: JSON.stringify(version) },
    logLevel: 'warning',
    absWorkingDir,
    write: false,
    // Without comments and indentation the program is ~30% smaller; ASCII only, so the
    // loader reads it as latin1. Names stay, so stack traces still read.
    minifyWhitespace: true,
    charset: 'ascii',
  };
  const program = await build({
    ...common,
    entryPoints: ['hpc-wrappers/cli-main.ts'],
    format: 'cjs',
    // the loader passes the file's URL (import.meta has no meaning in a function body)
    define: {
      ...common.define,
      'import.meta.url': '__hpcSelfUrl',
      // the job launcher (hpc-wrappers/job-launcher/launcher-script.ts) travels inside the one file
      __HPC_WRAP_JOB_LAUNCHER__: JSON.stringify(launcher),
    },
    // yargs reads import.meta.resolve only for a config file's `extends` (unused here)
    logOverride: { 'empty-import-meta': 'silent' },
    plugins: [noNativeModules, inquirerSideEffectFree, zodEnglishOnly],
  });
  const body = program.outputFiles[0].text;
  if (/[^\x00-\x7f]/.test(body) || body.includes('\x01')) throw new Error('hpc-wrap program: expected ASCII without \\x01');
  // vm.Script gets no dynamic-import hook: every import() must have been bundled away.
  if (/\bimport\(/.test(body)) throw new Error('hpc-wrap program: a dynamic import() was left in the CommonJS program');
  // The cache's key (code-cache.ts); the loader gets it written in.
  const hash = createHash('sha256').update(body).digest('hex');
  const loader = await build({
    ...common,
    entryPoints: ['hpc-wrappers/code-cache-loader.ts'],
    format: 'esm',
    define: { ...common.define, __HPC_WRAP_PROGRAM_HASH__: JSON.stringify(hash) },
    banner: { js: shellHead() },
  });
  const head = loader.outputFiles[0].text;
  if (launcher.includes('*/') || launcher.includes(LAUNCHER_END)) throw new Error(`${LAUNCHER_DIR}/*.py must not contain */ or ${LAUNCHER_END}`);
  mkdirSync(dirname(outfile), { recursive: true });
  writeFileSync(outfile, `${head}${BODY_MARKER}${body.replaceAll('*/', ESCAPED_END)}\n*/\n${LAUNCHER_MARKER}${launcher}${LAUNCHER_END}*/\n`);
  chmodSync(outfile, 0o755);
}
