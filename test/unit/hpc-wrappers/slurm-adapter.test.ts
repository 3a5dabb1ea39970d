// The Slurm adapter through the bundle, with sbatch/squeue/scancel replaced by a test
// double that replays output recorded from a real Slurm (fixtures/README.md) and logs
// the argv it was called with.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeJsonAtomic } from '../../../hpc-wrappers/json-files.js';
import { SQUEUE_FORMAT } from '../../../hpc-wrappers/schedulers/slurm/squeue-parser.js';
import { buildBundle, FIXTURES, makeWorkspace, startRequest, tempDir, type Workspace } from './support/hpc-wrap-bundle.js';

let bundle: string;
const spaces: Workspace[] = [];
beforeAll(async () => {
  bundle = await buildBundle(tempDir());
});
afterAll(() => spaces.forEach((w) => w.cleanup()));

const replay = (base: string) => [process.execPath, join(FIXTURES, 'scheduler-replay.mjs'), join(FIXTURES, base)];

interface Call {
  argv: string[];
  env: Record<string, string>;
}

function slurmWorkspace(bases: { submit?: string; query?: string; cancel?: string }, extra: Record<string, unknown> = {}) {
  const callsFile = join(tempDir('replay-'), 'calls.jsonl');
  const ws = makeWorkspace(bundle, {
    scheduler: {
      kind: 'slurm',
      submit: replay(bases.submit ?? 'sbatch/parsable'),
      query: replay(bases.query ?? 'squeue/all-states'),
      cancel: replay(bases.cancel ?? 'scancel/none'),
      env: { REPLAY_LOG: callsFile, SLURM_CONF: '/etc/slurm/test.conf' },
      timeoutSeconds: 10,
      ...extra,
    },
  });
  spaces.push(ws);
  const calls = (): Call[] =>
    existsSync(callsFile) ? readFileSync(callsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Call) : [];
  return { ws, calls };
}

/** A run dir as startjob + start-env would leave it, with the jobid file startjob writes. */
function fakeRunDir(ws: Workspace, jobId: string, files: { exit?: unknown; status?: unknown; output?: string }) {
  const sessionId = `s-${jobId.replace(/\d/g, (d) => 'abcdefghij'[Number(d)]!).padStart(26, 'a')}`;
  const runDir = join(ws.workDir, 'users', 'alice', 'sessions', sessionId);
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(runDir, 'jobid'), `${jobId}\n`);
  if (files.exit) writeJsonAtomic(join(runDir, 'exit.json'), files.exit);
  if (files.status) writeJsonAtomic(join(runDir, 'status.json'), files.status);
  if (files.output) writeFileSync(join(runDir, 'output.log'), files.output);
  return runDir;
}

describe('slurm jobstate', () => {
  it('asks squeue ONCE for our ids, then for the pending jobs of our pending jobs\' partitions only, and maps the recorded states', async () => {
    const { ws, calls } = slurmWorkspace({});
    fakeRunDir(ws, '1', { status: { phase: 'listening', host: '127.0.0.1', port: 51234, message: null } });
    const lines = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n');
    fakeRunDir(ws, '424242', { exit: { exitCode: 2, signal: null, endedAt: new Date().toISOString() }, output: `${lines}\nTraceback: boom\n` });
    const r = await ws.wrap.run(['jobstate', '5', '9', '1', '424242', '777777']);
    expect(r.code, r.stderr).toBe(0);
    expect(calls()).toHaveLength(2);
    expect(calls()[0]!.argv).toEqual(['--noheader', '--states=all', `--format=${SQUEUE_FORMAT}`, '--jobs=5,9,1,424242,777777']);
    // 5 waits in debug (9 is held: it waits for nobody): positions from debug's pending jobs, not the whole queue
    expect(calls()[1]!.argv).toEqual(['--noheader', '--states=PENDING', `--format=${SQUEUE_FORMAT}`, '--partition=debug']);
    expect(calls()[0]!.env.SLURM_CONF).toBe('/etc/slurm/test.conf');
    const doc = r.json as { scheduler: unknown; jobs: Record<string, Record<string, unknown>> };
    expect(doc.scheduler).toEqual({ name: 'slurm', reachable: true, error: null, batchSystem: true });
    expect(doc.jobs['5']).toMatchObject({ state: 'pending', reason: 'Resources', position: 1, estimatedStart: expect.stringMatching(/Z$/) });
    expect(doc.jobs['9']).toMatchObject({ state: 'pending', reason: 'JobHeldUser', position: null, estimatedStart: null });
    expect(doc.jobs['1']).toMatchObject({
      state: 'running',
      node: 'hwrec',
      server: { phase: 'listening', host: '127.0.0.1', port: 51234, message: null },
      outputTail: null,
    });
    // No longer listed: from the run dir's exit.json, with the last 20 lines of output.
    expect(doc.jobs['424242']).toMatchObject({ state: 'failed', exitCode: 2 });
    const tail = String(doc.jobs['424242']!.outputTail).split('\n');
    expect(tail).toHaveLength(20);
    expect(tail.at(-1)).toBe('Traceback: boom');
    // Never seen and no run dir: done, exit code unknown.
    expect(doc.jobs['777777']).toMatchObject({ state: 'done', exitCode: null, server: null, outputTail: null });
  });

  it('reads no queue at all when none of ours is pending (one call, our ids only)', async () => {
    const { ws, calls } = slurmWorkspace({});
    const r = await ws.wrap.run(['jobstate', '1', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(calls().map((c) => c.argv)).toEqual([['--noheader', '--states=all', `--format=${SQUEUE_FORMAT}`, '--jobs=1,2']]);
    expect((r.json as { jobs: Record<string, { state: string }> }).jobs['2']!.state).toBe('running');
  });

  it('asks for the partitions of every pending job of ours, in one call', async () => {
    const { ws, calls } = slurmWorkspace({});
    const r = await ws.wrap.run(['jobstate', '8', '6', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(calls()[1]!.argv).toEqual(['--noheader', '--states=PENDING', `--format=${SQUEUE_FORMAT}`, '--partition=debug,gpu']);
    const jobs = (r.json as { jobs: Record<string, { position: number | null }> }).jobs;
    expect(jobs['8']!.position).toBe(1);
    expect(jobs['6']!.position).toBeGreaterThan(1);
  });

  it('lists only the given ids when queue positions are off', async () => {
    const { ws, calls } = slurmWorkspace({}, { queuePosition: false });
    await ws.wrap.run(['jobstate', '5', '1', '5']);
    expect(calls()[0]!.argv).toEqual(['--noheader', '--states=all', `--format=${SQUEUE_FORMAT}`, '--jobs=5,1']);
  });

  it('treats "Invalid job id specified" for a single forgotten id as "not listed", not as unreachable', async () => {
    const { ws } = slurmWorkspace({ query: 'squeue/unknown-single-id' }, { queuePosition: false });
    const r = await ws.wrap.run(['jobstate', '424242']);
    expect(r.json).toMatchObject({ scheduler: { reachable: true }, jobs: { '424242': { state: 'done', exitCode: null } } });
  });

  it('reports every id unknown (exit 0) when the controller cannot be reached', async () => {
    const { ws } = slurmWorkspace({ query: 'squeue/controller-down' });
    fakeRunDir(ws, '1', { status: { phase: 'listening', host: '127.0.0.1', port: 51234, message: null } });
    const r = await ws.wrap.run(['jobstate', '1', '5']);
    expect(r.code).toBe(0);
    const doc = r.json as { scheduler: { reachable: boolean; error: string }; jobs: Record<string, { state: string; server: unknown }> };
    expect(doc.scheduler.reachable).toBe(false);
    expect(doc.scheduler.error).toContain('Unable to contact slurm controller');
    expect(doc.jobs['1']!.state).toBe('unknown');
    expect(doc.jobs['5']!.state).toBe('unknown');
    // The run dir still says the server is up: a transient error must not look like "gone".
    expect(doc.jobs['1']!.server).toMatchObject({ phase: 'listening' });
  });

  it('reports unknown when squeue hangs past timeoutSeconds', async () => {
    const { ws } = slurmWorkspace({}, { query: [process.execPath, '-e', 'setTimeout(() => {}, 60000)', '--'], timeoutSeconds: 1 });
    const started = Date.now();
    const r = await ws.wrap.run(['jobstate', '1']);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(r.json).toMatchObject({ scheduler: { reachable: false, error: expect.stringContaining('did not answer within 1 s') }, jobs: { '1': { state: 'unknown' } } });
  });
});

describe('slurm startjob and killjob', () => {
  it('passes resources as sbatch options (not #SBATCH lines) and the run dir in the environment', async () => {
    const { ws, calls } = slurmWorkspace({});
    const req = startRequest({
      resources: { partition: 'debug', cpus: 2, memoryMB: 512, gpus: 1, walltime: '01:00:00', account: 'proj1', qos: 'short', reservation: null, constraint: 'avx2', extraArgs: ['--exclusive'] },
    });
    const r = await ws.wrap.run(['startjob'], { input: JSON.stringify(req) });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const { jobId, runDir } = r.json as { jobId: string; runDir: string };
    expect(jobId).toBe('12');
    const home = join(ws.workDir, 'homes', 'alice');
    expect(calls()).toHaveLength(1);
    expect(calls()[0]!.argv).toEqual([
      '--job-name=jupyterhub-alice',
      `--output=${runDir}/output.log`,
      `--comment=hpc-bridge:${req.sessionId}`,
      `--chdir=${home}`,
      '--partition=debug',
      '--cpus-per-task=2',
      '--mem=512M',
      '--gres=gpu:1',
      '--time=01:00:00',
      '--account=proj1',
      '--qos=short',
      '--constraint=avx2',
      '--exclusive',
      `${runDir}/job.sh`,
    ]);
    expect(calls()[0]!.env).toMatchObject({ HPC_WRAP_RUN_DIR: runDir, HPC_WRAP_CONFIG: ws.configPath, SLURM_CONF: '/etc/slurm/test.conf' });
    const script = readFileSync(join(runDir, 'job.sh'), 'utf8');
    expect(script).not.toContain('#SBATCH');
    expect(script.split('\n')[0]).toBe('#!/bin/sh');
    expect(readFileSync(join(runDir, 'jobid'), 'utf8')).toBe('12\n');
  });

  it('submits a ready script with --job-name, --output, the session marker and --export=ALL only', async () => {
    const { ws, calls } = slurmWorkspace({});
    const script = '#!/bin/bash\n#SBATCH --time=00:05:00\nhpc-wrap start-env -- jupyterhub-singleuser\n';
    const r = await ws.wrap.run(['startjob'], { input: JSON.stringify(startRequest({ resources: null, script })) });
    const { runDir } = r.json as { runDir: string };
    expect(calls()[0]!.argv).toEqual(['--job-name=jupyterhub-alice', `--output=${runDir}/output.log`, `--comment=hpc-bridge:${(r.json as { sessionId: string }).sessionId}`, '--export=ALL', `${runDir}/job.sh`]);
    expect(readFileSync(join(runDir, 'job.sh'), 'utf8')).toBe(script);
  });

  it('exits 4 with the scheduler message when sbatch fails, leaving no secrets and allowing a retry', async () => {
    const { ws } = slurmWorkspace({ submit: 'sbatch/controller-down' });
    const req = startRequest();
    const r = await ws.wrap.run(['startjob'], { input: JSON.stringify(req) });
    expect(r.code).toBe(5); // unreachable: transient, the bridge retries (a refusal would be 4)
    expect(r.json).toMatchObject({ error: { code: 'unreachable', message: expect.stringContaining('Unable to contact slurm controller') } });
    const runDir = join(ws.workDir, 'users', 'alice', 'sessions', req.sessionId as string);
    expect(existsSync(join(runDir, 'spool', 'secrets.json'))).toBe(false);
    expect(existsSync(join(runDir, 'jobid'))).toBe(false);
    expect(existsSync(join(runDir, 'submit.lock'))).toBe(false);
    expect(readFileSync(ws.logFile, 'utf8')).toContain('"code":"unreachable"');
  });

  it('keeps the cluster part of a job id and passes --clusters to squeue and scancel', async () => {
    const { ws, calls } = slurmWorkspace({ submit: 'sbatch/parsable-cluster', query: 'squeue/finished-states' }, { queuePosition: false });
    const r = await ws.wrap.run(['startjob'], { input: JSON.stringify(startRequest()) });
    expect(r.json).toMatchObject({ jobId: '4242;clusterx' });
    await ws.wrap.run(['jobstate', '4242;clusterx']);
    expect(calls()[1]!.argv).toEqual(['--noheader', '--states=all', `--format=${SQUEUE_FORMAT}`, '--clusters=clusterx', '--jobs=4242']);
    const k = await ws.wrap.run(['killjob', '4242;clusterx']);
    expect(k.json).toEqual({ jobId: '4242;clusterx', cancelled: true });
    expect(calls()[2]!.argv).toEqual(['--clusters=clusterx', '4242']);
  });

  it('exits 4 when scancel cannot reach the controller', async () => {
    const { ws } = slurmWorkspace({ cancel: 'scancel/controller-down' });
    const r = await ws.wrap.run(['killjob', '4']);
    expect(r.code).toBe(5);
    expect(r.json).toMatchObject({ error: { code: 'unreachable', message: expect.stringContaining('Unable to contact slurm controller') } });
  });
});
