// The generic batch adapter through the bundle, for the dialects without a daemon in the unit
// suite: qsub/qstat/qdel are replaced by a TEST DOUBLE that replays output recorded from a real
// Grid Engine, or written from the PBS/Torque documentation (fixtures/*/README.md), and logs
// the argv it was called with. The real-daemon versions are test/system/hpc-wrap-schedulers.test.ts.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, FIXTURES, makeWorkspace, startRequest, tempDir, type Workspace } from './support/hpc-wrap-bundle.js';

let bundle: string;
const spaces: Workspace[] = [];
beforeAll(async () => {
  bundle = await buildBundle(tempDir());
});
afterAll(() => spaces.forEach((w) => w.cleanup()));

/** The replay double as a command; `when` = ['-j=other/base']: replay that base for calls with -j. */
const replay = (base: string, ...when: string[]) => [
  process.execPath,
  join(FIXTURES, 'scheduler-replay.mjs'),
  join(FIXTURES, base),
  ...when.map((w) => `when:${w.split('=')[0]}=${join(FIXTURES, w.split('=')[1]!)}`),
];

function workspace(scheduler: Record<string, unknown>) {
  const callsFile = join(tempDir('replay-'), 'calls.jsonl');
  const ws = makeWorkspace(bundle, { scheduler: { env: { REPLAY_LOG: callsFile }, timeoutSeconds: 10, ...scheduler } });
  spaces.push(ws);
  const calls = (): string[][] => (existsSync(callsFile) ? readFileSync(callsFile, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { argv: string[] }).argv) : []);
  return { ws, calls };
}

/** A run dir holding the job's id, as startjob leaves it. */
function ourJob(ws: Workspace, jobId: string): string {
  const runDir = join(ws.workDir, 'users', 'alice', 'sessions', `s-${jobId.replace(/[^a-z2-7]/g, '').padStart(26, 'a').slice(0, 26)}`);
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(runDir, 'jobid'), `${jobId}\n`);
  return runDir;
}

type Doc = { scheduler: { name: string; reachable: boolean; error: string | null }; jobs: Record<string, { state: string; node: string | null; position: number | null; reason: string | null }> };

describe('Grid Engine (recorded qsub/qstat/qdel)', () => {
  const ge = (over: Record<string, unknown> = {}) =>
    workspace({
      kind: 'gridengine',
      submit: replay('gridengine/qsub-terse'),
      query: replay('gridengine/qstat-all', '-j=gridengine/qstat-j-pending'),
      cancel: replay('gridengine/qdel-running'),
      ...over,
    });

  it("asks qstat -xml -u '*' ONCE for all ids, then qstat -j only for our waiting ones, and reports positions and the scheduler's words", async () => {
    const { ws, calls } = ge();
    const r = await ws.wrap.run(['jobstate', '1', '11', '7', '9', '424242']);
    expect(r.code, r.stderr).toBe(0);
    const doc = r.json as Doc;
    expect(doc.scheduler).toEqual({ name: 'gridengine', reachable: true, error: null, batchSystem: true });
    expect(doc.jobs['1']).toMatchObject({ state: 'running', node: 'localhost' });
    expect(doc.jobs['11']).toMatchObject({ state: 'pending', position: 1, reason: 'queue instance "harness.q@localhost" dropped because it is full; All queues dropped because of overload or full' });
    expect(doc.jobs['7']).toMatchObject({ state: 'pending', position: null, reason: 'the job is held' });
    expect(doc.jobs['9']!.state).toBe('failed');
    expect(doc.jobs['424242']!.state).toBe('done'); // no longer listed, no run dir
    expect(calls()).toEqual([['-xml', '-u', '*'], ['-xml', '-j', '11']]);
  });

  it('makes no second call with pendingReasons: false', async () => {
    const { ws, calls } = ge({ pendingReasons: false });
    expect(((await ws.wrap.run(['jobstate', '11'])).json as Doc).jobs['11']).toMatchObject({ state: 'pending', position: 1, reason: null });
    expect(calls()).toHaveLength(1);
  });

  it('with sge_qmaster down: every id unknown and the words of qstat; startjob exits 5 (unreachable), killjob too', async () => {
    const { ws } = ge({ query: replay('gridengine/qmaster-down-qstat'), submit: replay('gridengine/qmaster-down-qsub'), cancel: replay('gridengine/qmaster-down-qdel') });
    const doc = (await ws.wrap.run(['jobstate', '1'])).json as Doc;
    expect(doc.scheduler.reachable).toBe(false);
    expect(doc.scheduler.error).toMatch(/unable to send message to qmaster/);
    expect(doc.jobs['1']!.state).toBe('unknown');
    const start = await ws.wrap.run(['startjob'], { input: JSON.stringify(startRequest()) });
    expect(start.code).toBe(5);
    expect(start.json).toMatchObject({ error: { code: 'unreachable', message: expect.stringMatching(/^Grid Engine .* did not answer \S+: .*unable to send message to qmaster/s) } });
    expect((await ws.wrap.run(['killjob', '1'])).code).toBe(5);
  });

  it("startjob exits 4 with qsub's refusal; killjob of a job qdel says does not exist is not an error", async () => {
    const { ws } = ge({ submit: replay('gridengine/qsub-unknown-queue'), cancel: replay('gridengine/qdel-unknown') });
    const start = await ws.wrap.run(['startjob'], { input: JSON.stringify(startRequest()) });
    expect(start.code).toBe(4);
    expect((start.json as { error: { message: string } }).error.message).toMatch(/\S+ refused the job: .*unknown queue "no-such-queue"/s);
    expect((await ws.wrap.run(['killjob', '424242'])).json).toEqual({ jobId: '424242', cancelled: true });
  });

  it('submits with -terse and records the id qsub printed', async () => {
    const { ws, calls } = ge();
    const start = await ws.wrap.run(['startjob'], { input: JSON.stringify(startRequest({ resources: { cpus: 2, walltime: '00:10:00' } })) });
    expect(start.code, start.stderr).toBe(0);
    expect(start.json).toMatchObject({ jobId: '1' });
    const argv = calls()[0]!;
    expect(argv.slice(0, 3)).toEqual(['-terse', '-N', 'jupyterhub-alice']);
    expect(argv).toEqual(expect.arrayContaining(['-pe', 'smp', '2', '-l', 'h_rt=00:10:00', '-V']));
  });
});

describe('PBS Pro and Torque (outputs written from the documentation)', () => {
  it('Torque: ONE qstat -f -x for all jobs; without queue positions only our ids', async () => {
    const { ws, calls } = workspace({ kind: 'torque', query: replay('pbs/torque-qstat-f-x') });
    const doc = (await ws.wrap.run(['jobstate', '5201.torque01.example.org', '5202.torque01.example.org'])).json as Doc;
    expect(doc.jobs['5201.torque01.example.org']).toMatchObject({ state: 'running', node: 'n003,n004' });
    expect(doc.jobs['5202.torque01.example.org']).toMatchObject({ state: 'pending', position: 7 });
    expect(calls()).toEqual([['-f', '-x']]);
    const only = workspace({ kind: 'torque', query: replay('pbs/torque-qstat-f-x'), queuePosition: false });
    await only.ws.wrap.run(['jobstate', '5201.torque01.example.org']);
    expect(only.calls()).toEqual([['-f', '-x', '5201.torque01.example.org']]);
  });

  it('PBS Pro: -f -F json; "Unknown Job Id" (exit 153) means not listed, not unreachable; a server that is down means unknown', async () => {
    const { ws, calls } = workspace({ kind: 'pbspro', query: replay('pbs/pbspro-qstat-f') });
    expect(((await ws.wrap.run(['jobstate', '4102.pbs01'])).json as Doc).jobs['4102.pbs01']).toMatchObject({ state: 'pending', reason: expect.stringMatching(/^Not Running/) });
    expect(calls()).toEqual([['-f', '-F', 'json']]);
    const gone = workspace({ kind: 'pbspro', query: replay('pbs/pbspro-unknown'), queuePosition: false });
    const goneDoc = (await gone.ws.wrap.run(['jobstate', '4199.pbs01'])).json as Doc;
    expect(goneDoc.scheduler.reachable).toBe(true);
    expect(goneDoc.jobs['4199.pbs01']!.state).toBe('done');
    const down = workspace({ kind: 'pbspro', query: replay('pbs/pbspro-server-down'), submit: replay('pbs/pbspro-server-down') });
    const downDoc = (await down.ws.wrap.run(['jobstate', '4102.pbs01'])).json as Doc;
    expect(downDoc.scheduler).toMatchObject({ reachable: false, error: expect.stringMatching(/cannot connect to server pbs01/) });
    expect((await down.ws.wrap.run(['startjob'], { input: JSON.stringify(startRequest()) })).code).toBe(5);
  });

  it('output it cannot read is "unreachable" with the reason, never "gone"', async () => {
    const { ws } = workspace({ kind: 'pbspro', query: replay('pbs/pbspro-truncated') });
    const doc = (await ws.wrap.run(['jobstate', '4102.pbs01'])).json as Doc;
    expect(doc.scheduler.reachable).toBe(false);
    expect(doc.scheduler.error).toMatch(/cannot read as PBS Pro \/ OpenPBS output/);
    expect(doc.jobs['4102.pbs01']!.state).toBe('unknown');
  });

  it('killjob: a qdel that fails without a word (Slurm\'s wrapper, finished job) is fine when qstat shows the job ended', async () => {
    const { ws, calls } = workspace({ kind: 'torque', queryFormat: 'text', query: replay('pbs/slurm-wrapper-qstat-f'), cancel: replay('pbs/slurm-wrapper-qdel-finished') });
    ourJob(ws, '5');
    expect((await ws.wrap.run(['killjob', '5'])).json).toEqual({ jobId: '5', cancelled: true });
    expect(calls()).toEqual([['5'], ['-f']]);
    // a running job whose qdel fails is an error (exit 4)
    const still = await ws.wrap.run(['killjob', '1']);
    expect(still.code).toBe(4);
    expect(still.stderr).toMatch(/failed for job 1/);
  });
});
