// The Singularity/Apptainer argv builder and the container step's choices (image, GPU
// flag, what a --cleanenv container is handed), without running anything.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { containerSchema } from '../../../config/schema-container.js';
import { hpcWrapSchema } from '../../../config/schema.js';
import { buildContainerArgv, containerEnvPrefix, type ContainerInvocation } from '../../../hpc-wrappers/start-env/container-argv.js';
import { cleanEnvHandover, gpusRequested, gpuSupport } from '../../../hpc-wrappers/start-env/container-step.js';
import { createScheduler } from '../../../hpc-wrappers/schedulers/registry.js';
import { DOUBLE_BIN } from './support/container-env.js';

const base: ContainerInvocation = {
  runtime: ['singularity'],
  image: '/opt/images/compute.sif',
  gpu: 'none',
  home: null,
  noMount: [],
  binds: [],
  overlay: null,
  cleanEnv: false,
  extraArgs: [],
  command: ['jupyterhub-singleuser'],
};

describe('buildContainerArgv', () => {
  it('a compute job: exec, the image, the command', () => {
    expect(buildContainerArgv(base)).toEqual(['singularity', 'exec', '/opt/images/compute.sif', 'jupyterhub-singleuser']);
  });

  it('a full compute job: home, no-mount, binds, overlay, extra args, in the documented order', () => {
    const argv = buildContainerArgv({
      ...base,
      runtime: ['/usr/bin/apptainer'],
      home: { source: '/scratch/jh/homes/alice', target: '/home/jovyan' },
      noMount: ['hostfs', 'cwd'],
      binds: [
        { source: '/scratch/exchange', target: '/srv/nbgrader/exchange', mode: 'rw' },
        { source: '/opt/data', target: '/opt/data', mode: 'ro' },
      ],
      overlay: { path: '/scratch/jh/overlays/alice.img', readOnly: false },
      extraArgs: ['--contain'],
      command: ['jupyterhub-singleuser', '--debug'],
    });
    expect(argv).toEqual([
      '/usr/bin/apptainer', 'exec',
      '--home', '/scratch/jh/homes/alice:/home/jovyan', '--pwd', '/home/jovyan',
      '--no-mount', 'hostfs,cwd',
      '--bind', '/scratch/exchange:/srv/nbgrader/exchange:rw',
      '--bind', '/opt/data:/opt/data:ro',
      '--overlay', '/scratch/jh/overlays/alice.img',
      '--contain',
      '/opt/images/compute.sif', 'jupyterhub-singleuser', '--debug',
    ]);
  });

  it('gpu jobs: --nv for NVIDIA, --rocm for AMD', () => {
    expect(buildContainerArgv({ ...base, gpu: 'nv', image: '/opt/images/gpu.sif' })).toEqual(['singularity', 'exec', '--nv', '/opt/images/gpu.sif', 'jupyterhub-singleuser']);
    expect(buildContainerArgv({ ...base, gpu: 'rocm' })).toEqual(['singularity', 'exec', '--rocm', '/opt/images/compute.sif', 'jupyterhub-singleuser']);
  });

  it('a home at the same path inside: --home <dir> only; a spec-mode overlay: :ro; --cleanenv', () => {
    expect(
      buildContainerArgv({ ...base, home: { source: '/h/a', target: '/h/a' }, overlay: { path: '/o/shared.img', readOnly: true }, cleanEnv: true }),
    ).toEqual(['singularity', 'exec', '--home', '/h/a', '--overlay', '/o/shared.img:ro', '--cleanenv', '/opt/images/compute.sif', 'jupyterhub-singleuser']);
  });

  it('keeps a path with spaces and shell metacharacters as ONE element', () => {
    const src = "/data/exchange dir; $(touch pwned) `id` 'q' \"x\" & | > *";
    const argv = buildContainerArgv({ ...base, binds: [{ source: src, target: '/x y', mode: 'ro' }] });
    expect(argv).toContain(`${src}:/x y:ro`);
    expect(argv).toHaveLength(6);
  });

  it("refuses paths the runtime's --bind/--home/--overlay grammar cannot carry, naming them", () => {
    expect(() => buildContainerArgv({ ...base, binds: [{ source: '/a,b', target: '/a', mode: 'ro' }] })).toThrow(/bind source "\/a,b" contains ','/);
    expect(() => buildContainerArgv({ ...base, home: { source: '/h:x', target: '/h' } })).toThrow(/per-user home/);
    expect(() => buildContainerArgv({ ...base, overlay: { path: 'rel.img', readOnly: false } })).toThrow(/absolute/);
    expect(() => buildContainerArgv({ ...base, noMount: ['a,b'] })).toThrow(/noMount/);
    expect(() => buildContainerArgv({ ...base, image: '--nv' })).toThrow(/image/);
  });
});

describe('the container step choices', () => {
  it('GPU flag: only for jobs that asked for GPUs, unless gpuWhen is always', () => {
    expect(gpuSupport({ gpu: 'nv', gpuWhen: 'requested' }, true)).toBe('nv');
    expect(gpuSupport({ gpu: 'nv', gpuWhen: 'requested' }, false)).toBe('none');
    expect(gpuSupport({ gpu: 'rocm', gpuWhen: 'always' }, false)).toBe('rocm');
    expect(gpuSupport({ gpu: 'none', gpuWhen: 'always' }, true)).toBe('none');
  });

  it("GPUs requested: from resources.gpus, or (ready batch script) from the scheduler's variables recorded in job.json", () => {
    const slurm = createScheduler({ kind: 'slurm' }, { forkDir: '/nonexistent', selfCommand: ['hpc-wrap'] }).gpuVariables;
    const ge = createScheduler({ kind: 'gridengine' }, { forkDir: '/nonexistent', selfCommand: ['hpc-wrap'] }).gpuVariables;
    expect(gpusRequested(2, {}, slurm)).toBe(true);
    expect(gpusRequested(0, { CUDA_VISIBLE_DEVICES: '0' }, slurm)).toBe(false);
    expect(gpusRequested(null, { SLURM_JOB_GPUS: '0,1' }, slurm)).toBe(true);
    // a Slurm variable means nothing under Grid Engine; its own (and the common ones) do
    expect(gpusRequested(null, { SLURM_JOB_GPUS: '0,1' }, ge)).toBe(false);
    expect(gpusRequested(null, { SGE_HGR_gpu: 'gpu0' }, ge)).toBe(true);
    expect(gpusRequested(null, { CUDA_VISIBLE_DEVICES: '1' }, ge)).toBe(true);
    expect(gpusRequested(null, { CUDA_VISIBLE_DEVICES: 'NoDevFiles' }, slurm)).toBe(false);
    expect(gpusRequested(null, {}, slurm)).toBe(false);
  });

  it('--cleanenv hand-over: hub variables, JUPYTERHUB_* and passEnv under the runtime prefix, never HOME', () => {
    const env = { JUPYTERHUB_API_TOKEN: 't', JUPYTERHUB_SERVICE_URL: 'http://127.0.0.1:5/', LANG: 'C.UTF-8', SECRET_OF_NODE: 'x', HOME: '/h', MY_HUB_VAR: 'v' };
    const hub = { JUPYTERHUB_API_TOKEN: 't', MY_HUB_VAR: 'v', HOME: '/h' };
    expect(cleanEnvHandover(env, hub, { runtime: ['singularity'], passEnv: ['LANG'] })).toEqual({
      SINGULARITYENV_JUPYTERHUB_API_TOKEN: 't',
      SINGULARITYENV_JUPYTERHUB_SERVICE_URL: 'http://127.0.0.1:5/',
      SINGULARITYENV_MY_HUB_VAR: 'v',
      SINGULARITYENV_LANG: 'C.UTF-8',
    });
    expect(containerEnvPrefix(['/opt/apptainer/bin/apptainer'])).toBe('APPTAINERENV_');
    expect(containerEnvPrefix(['singularity'])).toBe('SINGULARITYENV_');
  });
});

describe('container and overlay config', () => {
  it('fills the defaults and refuses unmountable or relative paths with the key', () => {
    const c = containerSchema.parse({ image: 'images/compute.sif' });
    expect(c).toMatchObject({ runtime: ['singularity'], gpu: 'nv', gpuWhen: 'requested', home: null, cleanEnv: false, overlay: true, extraBinds: [] });
    const bad = containerSchema.safeParse({ image: 'x.sif', home: 'home:x', extraBinds: [{ source: 'rel' }] });
    expect(bad.success).toBe(false);
    const paths = bad.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['home', 'extraBinds.0.source']));
  });

  it('overlays: spec mode needs specImage; defaults match the documented ones', () => {
    const cfg = hpcWrapSchema.parse({ overlays: { enabled: true } });
    expect(cfg.overlays).toMatchObject({ mode: 'auto', location: null, sizeMiB: 2048, mkfs: ['mkfs.ext3'], fsck: ['e2fsck'], repair: true, whenInUse: 'without' });
    const spec = hpcWrapSchema.safeParse({ overlays: { enabled: true, mode: 'spec' } });
    expect(spec.success).toBe(false);
    expect(spec.error!.issues[0]!.path).toEqual(['overlays', 'specImage']);
  });
});

describe('the Singularity test double against the builder', () => {
  const run = (argv: string[]) => spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...process.env, CONTAINER_TEST_DOUBLE_LOG: '' } });

  it('accepts every option the builder emits (per the documented exec option table) and runs the command', () => {
    const dir = mkdtempSync(join(tmpdir(), 'double-'));
    const img = join(dir, 'c.sif');
    const ov = join(dir, 'o.img');
    writeFileSync(img, '');
    writeFileSync(ov, '');
    const argv = buildContainerArgv({
      ...base,
      runtime: [join(DOUBLE_BIN, 'apptainer')],
      image: img,
      gpu: 'nv',
      home: { source: dir, target: '/home/jovyan' },
      noMount: ['hostfs'],
      binds: [{ source: dir, target: '/data', mode: 'rw' }],
      overlay: { path: ov, readOnly: true },
      cleanEnv: true,
      extraArgs: ['--contain'],
      command: [process.execPath, '-e', 'console.log(process.env.HOME)'],
    });
    const r = run(argv);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('/home/jovyan');
  });

  it('refuses what the real runtime refuses: unknown flags, a missing overlay', () => {
    const unknown = run([join(DOUBLE_BIN, 'singularity'), 'exec', '--no-such-flag', '/etc/hostname', 'true']);
    expect(unknown.status).toBe(255);
    expect(unknown.stderr).toMatch(/unknown flag: --no-such-flag/);
    const overlay = run([join(DOUBLE_BIN, 'singularity'), 'exec', '--overlay', '/nonexistent.img', '/etc/hostname', 'true']);
    expect(overlay.status).toBe(255);
    expect(overlay.stderr).toMatch(/overlay \/nonexistent\.img does not exist/);
  });
});
