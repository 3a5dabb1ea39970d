// What each dialect puts on the command line for a session (the options a resource
// becomes, the ready-script case, the job id it reads back) and what it refuses with a
// message that says what to do instead.
import { describe, expect, it } from 'vitest';
import { resourcesSchema } from '../../../config/schema.js';
import { batchSettingsSchema } from '../../../hpc-wrappers/schedulers/batch-settings.js';
import type { SchedulerDialect } from '../../../hpc-wrappers/schedulers/dialect.js';
import { gridEngineDialect } from '../../../hpc-wrappers/schedulers/gridengine/dialect.js';
import { pbsProDialect } from '../../../hpc-wrappers/schedulers/pbs/pbspro.js';
import { torqueDialect } from '../../../hpc-wrappers/schedulers/pbs/torque.js';
import { hhmmss, walltimeSeconds } from '../../../hpc-wrappers/schedulers/shared/walltime.js';
import { slurmDialect } from '../../../hpc-wrappers/schedulers/slurm/dialect.js';
import type { JobSubmission } from '../../../hpc-wrappers/schedulers/types.js';

const job = (resources: Record<string, unknown> | null): JobSubmission => ({
  name: 'jupyterhub-alice',
  scriptPath: '/w/users/alice/sessions/s-x/job.sh',
  outputPath: '/w/users/alice/sessions/s-x/output.log',
  chdir: '/w/homes/alice',
  resources: resources === null ? null : resourcesSchema.parse(resources),
  env: {},
  marker: 'hpc-bridge:s-aaaaaaaaaaaaaaaaaaaaaaaaaa',
});
const MARKER = 'hpc-bridge:s-aaaaaaaaaaaaaaaaaaaaaaaaaa';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function args(d: SchedulerDialect<any>, resources: Record<string, unknown> | null, settings: Record<string, unknown> = {}): string[] {
  return d.submitArgs(job(resources), batchSettingsSchema(d).parse({ kind: d.kind, ...settings }) as never);
}

const full = { partition: 'short', cpus: 4, memoryMB: 8192, gpus: 1, walltime: '1-02:03:04', account: 'proj7' };

describe('Slurm', () => {
  it('turns resources into sbatch options and keeps the ready script to itself', () => {
    expect(args(slurmDialect, full)).toEqual([
      '--job-name=jupyterhub-alice', '--output=/w/users/alice/sessions/s-x/output.log', `--comment=${MARKER}`, '--chdir=/w/homes/alice',
      '--partition=short', '--cpus-per-task=4', '--mem=8192M', '--gres=gpu:1', '--time=1-02:03:04', '--account=proj7',
      '/w/users/alice/sessions/s-x/job.sh',
    ]);
    expect(args(slurmDialect, null)).toEqual(['--job-name=jupyterhub-alice', '--output=/w/users/alice/sessions/s-x/output.log', `--comment=${MARKER}`, '--export=ALL', '/w/users/alice/sessions/s-x/job.sh']);
    expect(slurmDialect.parseSubmit('sbatch: warning: x\n123;alpha\n')).toBe('123;alpha');
  });
});

describe('Grid Engine', () => {
  it('uses -terse, the PE for cores, per-slot memory, h_rt in HH:MM:SS, and -V for the run dir', () => {
    expect(args(gridEngineDialect, full)).toEqual([
      '-terse', '-N', 'jupyterhub-alice', '-o', '/w/users/alice/sessions/s-x/output.log', '-j', 'y', '-V', '-ac', `HPC_BRIDGE_MARKER=${MARKER}`, '-wd', '/w/homes/alice',
      '-q', 'short', '-pe', 'smp', '4', '-l', 'h_rt=26:03:04', '-l', 'mem_free=2048M', '-l', 'gpu=1', '-A', 'proj7',
      '/w/users/alice/sessions/s-x/job.sh',
    ]);
    expect(args(gridEngineDialect, { cpus: 2, memoryMB: 1000 }, { parallelEnvironment: 'threads', memoryResource: 'h_vmem' })).toEqual(
      expect.arrayContaining(['-pe', 'threads', '2', 'h_vmem=500M']),
    );
    // one core: no PE at all
    expect(args(gridEngineDialect, { cpus: 1 })).not.toContain('-pe');
    expect(args(gridEngineDialect, null)).toEqual(['-terse', '-N', 'jupyterhub-alice', '-o', '/w/users/alice/sessions/s-x/output.log', '-j', 'y', '-V', '-ac', `HPC_BRIDGE_MARKER=${MARKER}`, '-wd', '/w/homes/alice', '/w/users/alice/sessions/s-x/job.sh']);
  });

  it('refuses what it cannot express, naming the key and what to do', () => {
    expect(() => args(gridEngineDialect, { qos: 'high' })).toThrow(/Grid Engine cannot express resources\.qos: it has no QOS/);
    expect(() => args(gridEngineDialect, { constraint: 'avx512' })).toThrow(/resources\.constraint/);
    expect(() => args(gridEngineDialect, { extraArgs: ['--exclusive'] })).toThrow(/Slurm-style options \(--exclusive\)/);
    expect(() => args(gridEngineDialect, { cpus: 2 }, { parallelEnvironment: null })).toThrow(/scheduler\.parallelEnvironment is null/);
    expect(() => args(gridEngineDialect, { memoryMB: 512 }, { memoryResource: null })).toThrow(/scheduler\.memoryResource is null/);
    expect(() => args(gridEngineDialect, { reservation: 'maint' })).toThrow(/an advance reservation is a number/);
    const colon = { ...job({ cpus: 1 }), outputPath: '/w:x/output.log' };
    expect(() => gridEngineDialect.submitArgs(colon, batchSettingsSchema(gridEngineDialect).parse({ kind: 'gridengine' }) as never)).toThrow(/":" starts a host name/);
  });

  it('reads the id qsub -terse prints, also for an array', () => {
    expect(gridEngineDialect.parseSubmit('123\n')).toBe('123');
    expect(gridEngineDialect.parseSubmit('4.1-3:1\n')).toBe('4.1-3:1');
    expect(gridEngineDialect.parseSubmit('Your job 123 ("x") has been submitted\n')).toBeNull();
  });
});

describe('PBS Pro and Torque', () => {
  it('PBS Pro: one select chunk, walltime, reservation as its queue', () => {
    expect(args(pbsProDialect, full)).toEqual([
      '-N', 'jupyterhub-alice', '-o', '/w/users/alice/sessions/s-x/output.log', '-j', 'oe', '-V', '-v', `HPC_BRIDGE_MARKER=${MARKER}`,
      '-l', 'select=1:ncpus=4:mem=8192mb:ngpus=1', '-l', 'walltime=26:03:04', '-q', 'short', '-A', 'proj7',
      '/w/users/alice/sessions/s-x/job.sh',
    ]);
    expect(args(pbsProDialect, { reservation: 'R123' })).toEqual(expect.arrayContaining(['-q', 'R123']));
    expect(() => args(pbsProDialect, { reservation: 'R123', partition: 'short' })).toThrow(/a reservation is a queue of its own/);
    expect(() => args(pbsProDialect, { qos: 'x' })).toThrow(/PBS Pro cannot express resources\.qos/);
  });

  it('Torque: nodes=1:ppn=N[:gpus=G], mem for the job', () => {
    expect(args(torqueDialect, full)).toEqual([
      '-N', 'jupyterhub-alice', '-o', '/w/users/alice/sessions/s-x/output.log', '-j', 'oe', '-V', '-v', `HPC_BRIDGE_MARKER=${MARKER}`,
      '-l', 'nodes=1:ppn=4:gpus=1', '-l', 'walltime=26:03:04', '-l', 'mem=8192mb', '-q', 'short', '-A', 'proj7',
      '/w/users/alice/sessions/s-x/job.sh',
    ]);
    expect(() => args(torqueDialect, { reservation: 'r1' })).toThrow(/Torque cannot express resources\.reservation: reservations belong to Moab/);
    expect(args(torqueDialect, null)).toEqual(['-N', 'jupyterhub-alice', '-o', '/w/users/alice/sessions/s-x/output.log', '-j', 'oe', '-V', '-v', `HPC_BRIDGE_MARKER=${MARKER}`, '/w/users/alice/sessions/s-x/job.sh']);
  });

  it('read the ids qsub prints', () => {
    expect(pbsProDialect.parseSubmit('4101.pbs01\n')).toBe('4101.pbs01');
    expect(torqueDialect.parseSubmit('5201.torque01.example.org\n')).toBe('5201.torque01.example.org');
    expect(torqueDialect.parseSubmit('17\n')).toBe('17'); // Slurm's wrapper
    expect(pbsProDialect.parseSubmit('qsub: Unknown queue\n')).toBeNull();
  });
});

describe('wall time', () => {
  it("reads every form Slurm accepts and writes HH:MM:SS", () => {
    expect(walltimeSeconds('90')).toBe(5400);
    expect(walltimeSeconds('90:30')).toBe(5430);
    expect(walltimeSeconds('01:00:00')).toBe(3600);
    expect(walltimeSeconds('2-12')).toBe(216000);
    expect(walltimeSeconds('1-00:30')).toBe(88200);
    expect(walltimeSeconds('1-02:03:04')).toBe(93784);
    expect(hhmmss(93784)).toBe('26:03:04');
    expect(() => walltimeSeconds('soon')).toThrow(/not a wall time/);
  });
});
