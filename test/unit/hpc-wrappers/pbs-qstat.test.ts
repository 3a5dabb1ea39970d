// The PBS family's three qstat -f formats (text, PBS Pro JSON, Torque XML) read into one
// listing: every state, exec hosts over several nodes, arrays, exit status, the scheduler's
// comment. The JSON/XML/text inputs are written from the documentation (fixtures/pbs/README.md);
// the slurm-wrapper-* ones are recorded from slurm-wlm-torque's real qstat.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPbsJobs, readPbsText } from '../../../hpc-wrappers/schedulers/pbs/job-attributes.js';
import { pbsMarkedJobs } from '../../../hpc-wrappers/schedulers/pbs/pbs-common.js';
import { execHosts, pbsArrayTask, pbsListing, pbsTimeToIso } from '../../../hpc-wrappers/schedulers/pbs/pbs-listing.js';
import { assignPositions, indexListing, statusFor } from '../../../hpc-wrappers/schedulers/shared/listing.js';
import { FIXTURES } from './support/hpc-wrap-bundle.js';

const fixture = (name: string) => readFileSync(join(FIXTURES, 'pbs', name), 'utf8');

function listing(stdout: string, format: 'text' | 'json' | 'xml') {
  const rows = pbsListing(readPbsJobs(stdout, format));
  assignPositions(rows);
  const index = indexListing(rows);
  return { rows, status: (id: string) => statusFor(id, index, pbsArrayTask) };
}

describe('PBS Pro qstat -f -F json (written from the Reference Guide)', () => {
  const { rows, status } = listing(fixture('pbspro-qstat-f.stdout'), 'json');

  it('maps every job_state with one table', () => {
    const state = (id: string) => rows.find((r) => r.id === id)!.state;
    expect(state('4101.pbs01')).toBe('running');
    expect(state('4102.pbs01')).toBe('pending');
    expect(state('4104.pbs01')).toBe('pending'); // H
    expect(state('4105.pbs01')).toBe('pending'); // W
    expect(state('4106[].pbs01')).toBe('running'); // B
    expect(state('4108.pbs01')).toBe('completing'); // E
    expect(state('4109.pbs01')).toBe('pending'); // S
    expect(state('4110.pbs01')).toBe('pending'); // U
    expect(state('4111.pbs01')).toBe('pending'); // T
    expect(state('4112.pbs01')).toBe('unknown'); // M: moved to another server
    expect(state('4113.pbs01')).toBe('done'); // F, Exit_status 0
    expect(state('4114.pbs01')).toBe('failed'); // F, Exit_status 271
    expect(state('4106[3].pbs01')).toBe('done'); // X
  });

  it('reads both nodes of a multi-chunk job, exit codes and signals', () => {
    expect(status('4101.pbs01')).toMatchObject({ state: 'running', node: 'cn017,cn018', position: null });
    expect(status('4113.pbs01')).toMatchObject({ state: 'done', exitCode: 0 });
    expect(status('4114.pbs01')).toMatchObject({ state: 'failed', exitCode: 271, reason: 'killed by signal 15' });
  });

  it("gives waiting jobs a position by priority then queue time, the scheduler's comment as reason, and the estimated start", () => {
    // workq: 4107[] (09:30, 4 tasks), 4102 (10:01, prio 0), 4103 (prio -10)
    expect(status('4107[].pbs01')).toMatchObject({ state: 'pending', position: 1 });
    expect(status('4102.pbs01')).toMatchObject({
      state: 'pending',
      position: 5,
      reason: 'Not Running: Insufficient amount of resource: ncpus (R: 64 A: 16 T: 128)',
      estimatedStart: pbsTimeToIso('Sun Nov 29 12:30:00 2026'),
    });
    expect(status('4103.pbs01')).toMatchObject({ position: 6, reason: 'Not Running: Job would conflict with reservation or top job' });
    expect(status('4104.pbs01')).toMatchObject({ position: null, reason: 'the job is held (Hold_Types u)' });
    expect(status('4105.pbs01')!.reason).toMatch(/^waiting for its start time \(Mon Nov 30 06:00:00 2026\)/);
  });

  it('finds a subjob in its array and folds an array into its parent', () => {
    expect(status('4107[3].pbs01')).toMatchObject({ state: 'pending', position: 1 });
    expect(status('4107[2].pbs01')).toBeNull();
    expect(status('4106[3].pbs01')).toMatchObject({ state: 'done' });
  });

  it('reads an empty server (no "Jobs" key)', () => {
    expect(readPbsJobs('{"timestamp":1,"pbs_version":"2022.1.3","pbs_server":"pbs01"}', 'json')).toEqual([]);
    expect(readPbsJobs('', 'json')).toEqual([]);
  });
});

describe('Torque qstat -f -x (written from the Administrator Guide)', () => {
  const { rows, status } = listing(fixture('torque-qstat-f-x.stdout'), 'xml');

  it('maps every state, with exit_status deciding C', () => {
    const state = (id: string) => rows.find((r) => r.id === id)!.state;
    expect(rows.map((r) => r.rawState).join('')).toBe('RQQHWQRESTCCC');
    expect(state('5208.torque01.example.org')).toBe('completing');
    expect(state('5209.torque01.example.org')).toBe('pending');
    expect(state('5210.torque01.example.org')).toBe('pending');
    expect(status('5211.torque01.example.org')).toMatchObject({ state: 'done', exitCode: 0 });
    expect(status('5212.torque01.example.org')).toMatchObject({ state: 'failed', exitCode: 271, reason: 'killed by signal 15' });
    expect(status('5213.torque01.example.org')).toMatchObject({ state: 'failed', exitCode: 3 });
  });

  it('reads both nodes of exec_host, epoch times, positions per queue and the comment', () => {
    expect(status('5201.torque01.example.org')).toMatchObject({ state: 'running', node: 'n003,n004' });
    // batch: 5206[] (5 tasks, prio 0, earliest), 5203 (prio 100!), 5202 (prio 0)
    expect(status('5203.torque01.example.org')).toMatchObject({ position: 1 });
    expect(status('5206[].torque01.example.org')).toMatchObject({ position: 2 });
    expect(status('5202.torque01.example.org')).toMatchObject({ position: 7, reason: 'job not started: insufficient idle procs available' });
    expect(rows.find((r) => r.id === '5202.torque01.example.org')!.submitTime).toBe(pbsTimeToIso('1795946470'));
    expect(status('5207[2].torque01.example.org')).toMatchObject({ state: 'running', node: 'n010' });
  });
});

describe('qstat -f text (Torque style, written from the docs)', () => {
  it('joins continued values and reads the same fields', () => {
    const jobs = readPbsText(fixture('torque-qstat-f.txt'));
    expect(jobs.map((j) => j.id)).toEqual(['5201.torque01.example.org', '5202.torque01.example.org', '5211.torque01.example.org']);
    expect(jobs[0]!.attrs['Variable_List']).toBe('PBS_O_QUEUE=batch,PBS_O_HOME=/home/hpcsvc,PBS_O_LOGNAME=hpcsvc,PBS_O_WORKDIR=/home/hpcsvc,PBS_O_HOST=login01.example.org,PBS_O_SERVER=torque01.example.org');
    expect(jobs[0]!.attrs['submit_args']).toBe('-N jupyterhub-alice -j oe -V -l nodes=2:ppn=2 /scratch/hpc/users/alice/sessions/s-a/job.sh');
    const { status } = listing(fixture('torque-qstat-f.txt'), 'text');
    expect(status('5201.torque01.example.org')).toMatchObject({ state: 'running', node: 'n003,n004' });
    expect(status('5202.torque01.example.org')).toMatchObject({ state: 'pending', position: 1 });
    expect(status('5211.torque01.example.org')).toMatchObject({ state: 'done', exitCode: 0 });
  });
});

describe("slurm-wlm-torque's qstat -f (recorded)", () => {
  it('reads the tab-indented form: running with the node, queued, cancelled', () => {
    const { status } = listing(fixture('slurm-wrapper-qstat-f.stdout'), 'text');
    expect(status('1')).toMatchObject({ state: 'running', node: 'vm' });
    expect(status('3')).toMatchObject({ state: 'pending', position: 1 });
    // the wrapper shows a held job as Q (Priority 0): it cannot tell, so it queues behind
    expect(status('4')).toMatchObject({ state: 'pending', position: 2 });
    expect(status('5')).toMatchObject({ state: 'done', exitCode: null });
  });
});

describe('exec host forms', () => {
  it('reads Torque ranges, PBS Pro chunks and exec_vnode', () => {
    expect(execHosts('n003/0-1+n004/0-1')).toBe('n003,n004');
    expect(execHosts('cn017/0*2+cn018/0*2')).toBe('cn017,cn018');
    expect(execHosts('node1/0+node1/1+node1/2')).toBe('node1');
    expect(execHosts(undefined, '(cn1:ncpus=2)+(cn2:ncpus=2)')).toBe('cn1,cn2');
    expect(execHosts('--')).toBeNull();
    expect(execHosts(undefined)).toBeNull();
  });
});

describe('jobs by session marker (Variable_List)', () => {
  it('lists the live ones only, in every format', () => {
    expect(pbsMarkedJobs(fixture('pbspro-qstat-f.stdout'), 'hpc-bridge:', 'json')).toEqual([
      { jobId: '4101.pbs01', marker: 'hpc-bridge:s-alicealicealicealicealiceal', state: 'running', user: 'hpcsvc' },
      { jobId: '4102.pbs01', marker: 'hpc-bridge:s-bobbobbobbobbobbobbobbobbo', state: 'pending', user: 'hpcsvc' },
    ]);
    expect(pbsMarkedJobs(fixture('torque-qstat-f-x.stdout'), 'hpc-bridge:', 'xml')).toEqual([
      { jobId: '5201.torque01.example.org', marker: 'hpc-bridge:s-alicealicealicealicealiceal', state: 'running', user: 'hpcsvc' },
    ]);
    const text = 'Job Id: 9.srv\n    job_state = Q\n    euser = dora\n    Variable_List = PBS_O_HOME=/home/dora,HPC_BRIDGE_MARKER=hpc-bridge:s-d\n\tora,PBS_O_SHELL=/bin/bash\n';
    expect(pbsMarkedJobs(text, 'hpc-bridge:', 'text')).toEqual([{ jobId: '9.srv', marker: 'hpc-bridge:s-dora', state: 'pending', user: 'dora' }]);
  });
});
