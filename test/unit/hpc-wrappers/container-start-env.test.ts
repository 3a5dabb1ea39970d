// `hpc-wrap start-env` with a container environment, through the built bundle, against
// the Singularity/Apptainer TEST DOUBLE (test/fixtures/bin/singularity, first on PATH):
// the argv the runtime gets, that the server really runs inside and sees the hub's env,
// that no secret reaches argv, and the overlay step's notices.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OverlayPlan } from '../../../hpc-wrappers/overlay/overlay-plan.js';
import { DEFAULT_LMOD } from '../../../hpc-wrappers/start-env/modules-step.js';
import { DOUBLE_BIN, pathWithDouble, readDoubleLog, readJson, runDirWithSpool, startEnvProcess } from './support/container-env.js';
import { hasE2fsprogs } from './support/e2fs.js';
import { buildBundle, makeWorkspace, tempDir, TINY_SERVER, waitFor, type Workspace } from './support/hpc-wrap-bundle.js';

const SECRET = 'hub-api-token-8f3a1c77e2';
let bundle: string;
let ws: Workspace;
let image: string;
let gpuImage: string;
let n = 0;

beforeAll(async () => {
  bundle = await buildBundle(tempDir());
  ws = makeWorkspace(bundle);
  mkdirSync(join(ws.dir, 'images'));
  image = join(ws.dir, 'images', 'compute.sif');
  gpuImage = join(ws.dir, 'images', 'gpu.sif');
  writeFileSync(image, 'not really a SIF: the test double only checks that it exists');
  writeFileSync(gpuImage, 'not really a SIF either');
});
afterAll(() => ws.cleanup());

const SECRET_SHA = createHash('sha256').update(SECRET).digest('hex');

/** Prints, as one JSON line, what the server process sees (the token only as its hash). */
const PROBE = [
  process.execPath,
  '-e',
  `const e = process.env; const sha = (v) => v === undefined ? null : require('node:crypto').createHash('sha256').update(v).digest('hex'); console.log('PROBE ' + JSON.stringify({ home: e.HOME, token: sha(e.JUPYTERHUB_API_TOKEN) === ${JSON.stringify(SECRET_SHA)}, url: e.JUPYTERHUB_SERVICE_URL, hostOnly: e.HOST_ONLY_VARIABLE ?? null, prefixed: Object.keys(e).filter((k) => k.endsWith('ENV_JUPYTERHUB_API_TOKEN')) }))`,
];

function probeOf(output: string): Record<string, unknown> {
  const line = output.split('\n').find((l) => l.startsWith('PROBE '));
  if (!line) throw new Error(`the server did not run; output:\n${output}`);
  return JSON.parse(line.slice(6)) as Record<string, unknown>;
}

async function run(command: string[], opts: Parameters<typeof runDirWithSpool>[2], extraEnv: NodeJS.ProcessEnv = {}) {
  const runDir = runDirWithSpool(ws, command, { env: { JUPYTERHUB_API_TOKEN: SECRET, JUPYTERHUB_SERVICE_PREFIX: '/user/alice/' }, ...opts });
  const log = join(ws.dir, `double-${++n}.log`);
  const p = startEnvProcess(bundle, ws, runDir, { PATH: pathWithDouble(), CONTAINER_TEST_DOUBLE_LOG: log, HOST_ONLY_VARIABLE: 'from-the-node', ...extraEnv });
  return { runDir, log, p };
}

describe('start-env in a container (Singularity/Apptainer test double)', () => {
  it('runs the server through `singularity exec` with home, binds and the image; the server sees the hub env; no secret in argv', async () => {
    const exchange = join(ws.dir, 'exchange');
    mkdirSync(exchange);
    const home = join(ws.workDir, 'homes', 'alice');
    const { runDir, log, p } = await run(PROBE, {
      container: { image, home: '/home/jovyan', noMount: ['hostfs'], extraBinds: [{ source: exchange, target: '/srv/nbgrader/exchange', mode: 'rw' }] },
    });
    expect(await p.exited, p.output()).toBe(0);
    const calls = readDoubleLog(log);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.runtime).toBe('singularity');
    expect(calls[0]!.argv).toEqual([
      'exec',
      '--home', `${home}:/home/jovyan`, '--pwd', '/home/jovyan',
      '--no-mount', 'hostfs',
      '--bind', `${exchange}:/srv/nbgrader/exchange:rw`,
      image,
      ...PROBE,
    ]);
    const seen = probeOf(p.output());
    const status = readJson(join(runDir, 'status.json'));
    expect(seen).toEqual({ home: '/home/jovyan', token: true, url: `http://127.0.0.1:${status.port}/user/alice/`, hostOnly: 'from-the-node', prefixed: [] });
    expect(JSON.stringify(calls)).not.toContain(SECRET);
    expect(p.output()).not.toContain(SECRET);
  });

  it('keeps a user name and a bind path with spaces and shell metacharacters as ONE argv element each', async () => {
    const odd = join(ws.dir, "data dir; $(touch PWNED) `id` 'q' & | *");
    mkdirSync(odd);
    const home = join(ws.workDir, 'homes', 'o_2ebrien_2bx_40uni');
    const { log, p } = await run(PROBE, { user: 'o.brien+x@uni', home, container: { image, extraBinds: [{ source: odd }] } });
    expect(await p.exited, p.output()).toBe(0);
    const argv = readDoubleLog(log)[0]!.argv;
    expect(argv).toEqual(['exec', '--home', home, '--bind', `${odd}:${odd}:ro`, image, ...PROBE]);
    expect(argv.filter((a) => a.includes('PWNED'))).toHaveLength(1);
  });

  it('a GPU job gets the GPU image and --nv; an AMD environment --rocm; apptainer is called by its name', async () => {
    const nv = await run(PROBE, { gpus: 1, container: { image, gpuImage } });
    expect(await nv.p.exited, nv.p.output()).toBe(0);
    expect(readDoubleLog(nv.log)[0]!.argv.slice(0, 5)).toEqual(['exec', '--nv', '--home', join(ws.workDir, 'homes', 'alice'), gpuImage]);

    const rocm = await run(PROBE, { gpus: 2, home: null, container: { runtime: ['apptainer'], image, gpu: 'rocm' } });
    expect(await rocm.p.exited, rocm.p.output()).toBe(0);
    expect(readDoubleLog(rocm.log)[0]).toMatchObject({ runtime: 'apptainer', argv: ['exec', '--rocm', image, ...PROBE] });

    const cpu = await run(PROBE, { gpus: 0, home: null, container: { image, gpuImage } });
    expect(await cpu.p.exited).toBe(0);
    expect(readDoubleLog(cpu.log)[0]!.argv).toEqual(['exec', image, ...PROBE]);
  });

  it('cleanEnv: --cleanenv, the token handed over as SINGULARITYENV_ (never argv), node-only variables left out', async () => {
    const { log, p } = await run(PROBE, { home: null, container: { image, cleanEnv: true } });
    expect(await p.exited, p.output()).toBe(0);
    const call = readDoubleLog(log)[0]!;
    expect(call.argv).toEqual(['exec', '--cleanenv', image, ...PROBE]);
    expect(call.env).toEqual(['SINGULARITYENV_JUPYTERHUB_API_TOKEN', 'SINGULARITYENV_JUPYTERHUB_SERVICE_PREFIX', 'SINGULARITYENV_JUPYTERHUB_SERVICE_URL']);
    expect(probeOf(p.output())).toMatchObject({ token: true, hostOnly: null, prefixed: [] });
    expect(JSON.stringify(call)).not.toContain(SECRET);
  });

  it('fails clearly, naming the key, when the runtime is not on PATH or the image is missing', async () => {
    const noRuntime = await run(PROBE, { container: { image } }, { PATH: '/usr/bin:/bin' });
    expect(await noRuntime.p.exited).toBe(1);
    expect(readJson(join(noRuntime.runDir, 'status.json'))).toMatchObject({
      phase: 'exited',
      message: expect.stringMatching(/container runtime "singularity" was not found .*environments\.lab\.container\.runtime in hpc-wrap\.yaml/),
    });
    const noImage = await run(PROBE, { container: { image: join(ws.dir, 'images', 'missing.sif') } });
    expect(await noImage.p.exited).toBe(1);
    expect(noImage.p.output()).toMatch(/container image .*missing\.sif does not exist .*environments\.lab\.container\.image/);
    expect(readDoubleLog(noImage.log)).toEqual([]);
    const noBind = await run(PROBE, { container: { image, extraBinds: [{ source: join(ws.dir, 'no-such-exchange') }] } });
    expect(await noBind.p.exited).toBe(1);
    expect(noBind.p.output()).toMatch(/bind source .*no-such-exchange does not exist .*environments\.lab\.container\.extraBinds/);
    const badHome = await run(PROBE, { home: join(ws.dir, 'home:with-colon'), container: { image } });
    expect(await badHome.p.exited).toBe(1);
    expect(badHome.p.output()).toMatch(/per-user home .* contains ',' or ':'/);
  });
});

describe.runIf(existsSync(DEFAULT_LMOD))('container.loadModules (real Lmod)', () => {
  it('loads the module that puts the runtime on PATH, then runs it', async () => {
    const tree = join(ws.dir, 'modulefiles');
    mkdirSync(join(tree, 'singularity'), { recursive: true });
    writeFileSync(join(tree, 'singularity', 'test-double.lua'), `prepend_path("PATH", ${JSON.stringify(DOUBLE_BIN)})\n`);
    const container = { image, loadModules: ['singularity'] };
    const { log, p } = await run(PROBE, { home: null, container, modules: { modulePath: [tree] } }, { PATH: '/usr/bin:/bin' });
    expect(await p.exited, p.output()).toBe(0);
    expect(readDoubleLog(log)[0]!.argv).toEqual(['exec', image, ...PROBE]);

    const missing = await run(PROBE, { home: null, container: { image, loadModules: ['apptainer'] }, modules: { modulePath: [tree] } }, { PATH: '/usr/bin:/bin' });
    expect(await missing.p.exited).toBe(1);
    expect(missing.p.output()).toMatch(/environments\.lab\.container\.loadModules.*module 'apptainer' not found/);
  });
});

describe('start-env with an overlay (real e2fsprogs)', () => {
  beforeAll(() => {
    if (!hasE2fsprogs()) throw new Error('these tests need e2fsprogs (mkfs.ext3, e2fsck): apt-get install e2fsprogs');
  });

  const plan = (name: string): OverlayPlan => ({
    mode: 'auto',
    image: join(ws.workDir, 'overlays', `${name}.img`),
    sizeMiB: 64,
    mkfs: ['mkfs.ext3'],
    fsck: ['e2fsck'],
    repair: true,
    whenInUse: 'without',
  });

  it("mounts the user's overlay (made on first use) read-write; spec mode read-only", async () => {
    const first = await run(PROBE, { home: null, container: { image }, overlay: plan('frank') });
    expect(await first.p.exited, first.p.output()).toBe(0);
    expect(readDoubleLog(first.log)[0]!.argv).toEqual(['exec', '--overlay', plan('frank').image, image, ...PROBE]);
    expect(first.p.output()).toContain(`created the overlay image ${plan('frank').image}`);

    const shared = { ...plan('frank'), mode: 'spec' as const };
    const spec = await run(PROBE, { home: null, container: { image }, overlay: shared });
    expect(await spec.p.exited, spec.p.output()).toBe(0);
    expect(readDoubleLog(spec.log)[0]!.argv).toEqual(['exec', '--overlay', `${shared.image}:ro`, image, ...PROBE]);
  });

  it('a damaged overlay is recreated, and the student is told in the job output AND status.json', async () => {
    const p0 = plan('grace');
    mkdirSync(join(ws.workDir, 'overlays'), { recursive: true });
    writeFileSync(p0.image, Buffer.alloc(1024 * 1024, 0x5a)); // garbage, not a file system
    const { runDir, log, p } = await run([process.execPath, TINY_SERVER], { home: null, container: { image }, overlay: p0 });
    const status = await waitFor(async () => {
      const s = existsSync(join(runDir, 'status.json')) ? readJson(join(runDir, 'status.json')) : null;
      return s?.phase === 'listening' ? s : null;
    }, 'the server to listen');
    expect(status.message).toMatch(/^Your overlay image was damaged and has been recreated \(empty\); the old one is kept as .*grace\.img\.corrupt-\d{8}T\d{6}Z\.$/);
    expect(p.output()).toContain('Your overlay image was damaged and has been recreated');
    expect(p.output()).toMatch(/the overlay image check failed: `e2fsck -n /);
    expect(readDoubleLog(log)[0]!.argv).toContain('--overlay');
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });
});
