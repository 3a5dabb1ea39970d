// The hub side as ONE installable tarball that runs with nothing but Node (no npm, no
// registry, no checkout): `node scripts/pack-hub.mjs [--out DIR]` (npm run pack:hub).
//   hpc-bridge-<version>/bin/hpc-bridge, bin/hpc-wrap       symlinks into lib/
//   lib/hpc-bridge.mjs   every dependency inlined except better-sqlite3 (native)
//   lib/hpc-wrap.mjs     the cluster bundle `hpc-bridge deploy` pushes
//   node_modules/        better-sqlite3 (+ bindings, file-uri-to-path), runtime files only
//   share/               the JupyterHub spawner, batchspawner scripts, systemd units, examples, the setup guide
// better_sqlite3.node is built for one platform and Node ABI, so the file name says which
// (linux-x64-node115 = Node 20); build the tarball with the Node the hub host runs.
// Install, upgrade and rollback: docs/setup.md step 1.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { banner, cjsGlobals, inquirerSideEffectFree, noNativeModules } from './build-plugins.mjs';
import { buildHpcWrap } from './hpc-wrap-bundle.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
const outAt = process.argv.indexOf('--out');
const outDir = resolve(outAt > 0 ? process.argv[outAt + 1] : join(REPO, 'dist/release'));
const name = `hpc-bridge-${pkg.version}`;
const platform = `${process.platform}-${process.arch}-node${process.versions.modules}`;
const stage = join(outDir, name);

rmSync(stage, { recursive: true, force: true });
mkdirSync(join(stage, 'bin'), { recursive: true });
mkdirSync(join(stage, 'lib'));

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  define: { __HPC_BRIDGE_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'error',
  absWorkingDir: REPO,
  banner: { js: `${banner.js}\n${cjsGlobals}` },
};
await buildHpcWrap(join(stage, 'lib/hpc-wrap.mjs'), { version: pkg.version, absWorkingDir: REPO });
await build({ ...common, entryPoints: ['hub-bridge/cli.ts'], outfile: join(stage, 'lib/hpc-bridge.mjs'), external: ['better-sqlite3'], plugins: [noNativeModules, inquirerSideEffectFree] });
for (const f of ['hpc-bridge', 'hpc-wrap']) {
  chmodSync(join(stage, `lib/${f}.mjs`), 0o755);
  symlinkSync(`../lib/${f}.mjs`, join(stage, 'bin', f));
}

// The one native dependency, runtime files only.
const copy = (from, to = from) => cpSync(join(REPO, from), join(stage, to), { recursive: true, dereference: true });
const native = join(REPO, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
if (!existsSync(native)) throw new Error(`${native} is missing: run npm ci first`);
for (const f of ['package.json', 'LICENSE', 'lib', 'build/Release/better_sqlite3.node']) copy(`node_modules/better-sqlite3/${f}`);
for (const f of ['package.json', 'bindings.js', 'LICENSE']) copy(`node_modules/bindings/${f}${f === 'LICENSE' ? '.md' : ''}`);
for (const f of ['package.json', 'LICENSE', 'index.js']) copy(`node_modules/file-uri-to-path/${f}`);

// What the hub host needs besides the programs.
cpSync(join(REPO, 'hub-bridge/jupyterhub'), join(stage, 'share/jupyterhub'), { recursive: true, filter: (p) => !/\/tests(\/|$)|__pycache__/.test(p) });
for (const f of ['hpc-bridge-submit', 'hpc-bridge-query', 'hpc-bridge-cancel']) copy(`hub-bridge/batchspawner/${f}`, `share/batchspawner/${f}`);
copy('examples/systemd', 'share/systemd');
for (const f of ['hub-bridge.example.yaml', 'hub-bridge.ssh.example.yaml', 'hpc-wrap.example.yaml']) copy(`config/${f}`, `share/config/${f}`);
for (const f of ['jupyterhub_config.py', 'jupyterhub_config.batchspawner.py']) copy(`examples/${f}`, `share/examples/${f}`);
copy('docs/setup.md', join('share', 'docs/setup.md'));
writeFileSync(join(stage, 'VERSION'), `${pkg.version} ${platform}\n`);

const tarball = join(outDir, `${name}-${platform}.tar.gz`);
// argv, no shell; owner and group 0 so the files are root's wherever it is unpacked.
execFileSync('tar', ['-czf', tarball, '--owner=0', '--group=0', '--sort=name', '-C', outDir, name]);
rmSync(stage, { recursive: true, force: true });
process.stdout.write(`${tarball}\n`);
