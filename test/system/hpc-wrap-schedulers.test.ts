// hpc-wrap on its own against the other real schedulers: a real Grid Engine (the harness'
// sge_qmaster + sge_execd) and the PBS Pro / Torque dialects against the only PBS-style
// commands that exist here, Slurm's own qsub/qstat/qdel wrappers (slurm-wlm-torque) on a
// harness Slurm. Grid Engine runs no job of uid < 1000, so hpc-wrap runs as a test account.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, HpcWrap, startRequest, TINY_SERVER, waitFor } from '../unit/hpc-wrappers/support/hpc-wrap-bundle.js';
import { ensureUser, pbsCommandsDir, processesInDir, startGridEngine, startSlurm, type GridEngineCluster, type SlurmCluster, type UserInfo } from './harness/index.js';

const USER = 'hpcwrap-sched';
let account: UserInfo;
let root: string;
let bundle: string;

type Report = { state: string; node: string | null; position: number | null; reason: string | null; server: { phase: string; host: string; port: number } | null; outputTail: string | null };
type StateDoc = { scheduler: { name: string; reachable: boolean; error: string | null }; jobs: Record<string, Report> };

function chownTree(p: string, u: UserInfo): void {
  chownSync(p, u.uid, u.gid);
  if (statSync(p).isDirectory()) for (const e of readdirSync(p)) chownTree(join(p, e), u);
}

/** A work dir and hpc-wrap.yaml owned by the test account. */
function workspace(name: string, scheduler: Record<string, unknown>): HpcWrap {
  const dir = join(root, name);
  mkdirSync(dir, { mode: 0o755 });
  const configPath = join(dir, 'hpc-wrap.yaml');
  writeFileSync(configPath, stringify({ workDir: join(dir, 'work'), logging: { file: join(dir, 'hpc-wrap.log') }, scheduler }));
  chownTree(dir, account);
  return new HpcWrap(bundle, configPath, USER);
}

async function jobState(w: HpcWrap, id: string): Promise<StateDoc> {
  const r = await w.run(['jobstate', id], { timeoutMs: 60_000 });
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return r.json as StateDoc;
}

async function start(w: HpcWrap, overrides: Record<string, unknown> = {}): Promise<{ code: number | null; jobId: string; out: string }> {
  const r = await w.run(['startjob'], { input: JSON.stringify(startRequest(overrides)), timeoutMs: 60_000 });
  return { code: r.code, jobId: (r.json as { jobId?: string } | null)?.jobId ?? '', out: r.stdout + r.stderr };
}

beforeAll(async () => {
  account = await ensureUser(USER);
  root = mkdtempSync('/tmp/hw-sched-');
  chmodSync(root, 0o755);
  const bin = join(root, 'bin');
  mkdirSync(bin, { mode: 0o755 });
  bundle = await buildBundle(bin);
}, 60_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('Grid Engine (real sge_qmaster + sge_execd)', () => {
  let ge: GridEngineCluster;
  let geParent: string | undefined;
  let w: HpcWrap;
  const ours = async () => (await ge.jobs()).filter((j) => j.user === USER).map((j) => j.id);
  // A test that fails half-way leaves no job to the next one.
  afterEach(async () => {
    const left = await ours();
    if (left.length) await ge.run(['qdel', ...left], { user: USER });
    await waitFor(async () => (await ours()).length === 0, 'no jobs left', 30_000);
  }, 60_000);
  beforeAll(async () => {
    geParent = mkdtempSync('/tmp/hw-ge-');
    chmodSync(geParent, 0o755);
    ge = await startGridEngine({ dir: join(geParent, 'ge'), users: [USER] });
    w = workspace('ge', { kind: 'gridengine', env: ge.env, timeoutSeconds: 20 });
  }, 120_000);
  afterAll(async () => {
    await ge?.stop();
    if (ge) expect(processesInDir(ge.dir)).toEqual([]);
    if (geParent) rmSync(geParent, { recursive: true, force: true });
  }, 60_000);

  it('submits with qsub -terse (2 cores through the PE), sees it run and listen through ONE qstat -xml + status.json, cancels with qdel', async () => {
    const { code, jobId, out } = await start(w, { resources: { cpus: 2, memoryMB: 1024, walltime: '00:05:00' } });
    expect(code, out).toBe(0);
    expect(jobId).toMatch(/^\d+$/);
    const listed = (await ge.jobs()).find((j) => j.id === jobId);
    expect(listed).toMatchObject({ user: USER, name: 'jupyterhub-alice' });
    const up = await waitFor(async () => {
      const s = (await jobState(w, jobId)).jobs[jobId]!;
      if (['failed', 'done', 'cancelled'].includes(s.state)) throw new Error(`job ended: ${JSON.stringify(s)}`);
      return s.state === 'running' && s.server?.phase === 'listening' ? s : null;
    }, 'the job to run and listen', 60_000);
    expect(up.node).toBe('localhost');
    expect((await fetch(`http://${up.server!.host}:${up.server!.port}/user/alice/`)).status).toBe(200);
    // its session marker (-ac) is listed back by ONE qstat -xml -j '*'
    const marked = await w.run(['marked-jobs'], { timeoutMs: 60_000 });
    expect(marked.json).toMatchObject({ reachable: true, jobs: [{ jobId, state: 'running', account: USER }] });
    // the PE gave it two slots
    const detail = await ge.run(['qstat', '-j', jobId]);
    expect(detail.stdout).toMatch(/parallel environment:\s+smp range:\s+2/);

    expect((await w.run(['killjob', jobId])).json).toEqual({ jobId, cancelled: true });
    const end = await waitFor(async () => {
      const s = (await jobState(w, jobId)).jobs[jobId]!;
      return ['cancelled', 'done', 'failed'].includes(s.state) ? s : null;
    }, 'the job to end', 60_000);
    expect(end.state).toBe('cancelled');
    // cancelling again is not an error (qdel: "job … does not exist")
    expect((await w.run(['killjob', jobId])).code).toBe(0);
  }, 150_000);

  it("a waiting job gets its queue position and the scheduler's reason; a held one gets no position", async () => {
    const blocker = await ge.run(['qsub', '-terse', '-b', 'y', '-N', 'blocker', '-o', '/dev/null', '-j', 'y', '-pe', ge.pe, String(ge.slots), 'sleep', '600'], { user: USER });
    expect(blocker.code, blocker.stderr).toBe(0);
    const held = await ge.run(['qsub', '-terse', '-h', '-b', 'y', '-N', 'held', '-o', '/dev/null', '-j', 'y', 'sleep', '60'], { user: USER });
    try {
      await waitFor(async () => (await ge.jobs()).some((j) => j.id === blocker.stdout.trim() && j.state === 'r'), 'the blocker to run', 30_000);
      const { code, jobId, out } = await start(w);
      expect(code, out).toBe(0);
      const queued = await waitFor(async () => {
        const s = (await jobState(w, jobId)).jobs[jobId]!;
        return s.state === 'pending' && s.reason ? s : null;
      }, 'a reason for the waiting job', 30_000);
      expect(queued.position).toBe(1);
      expect(queued.reason).toMatch(/full|dropped|cannot run/i);
      const heldId = held.stdout.trim();
      const doc = await jobState(w, heldId);
      expect(doc.jobs[heldId]).toMatchObject({ state: 'pending', position: null });
      expect(doc.jobs[heldId]!.reason).toMatch(/held/i);
      await w.run(['killjob', jobId]);
    } finally {
      await ge.run(['qdel', blocker.stdout.trim(), held.stdout.trim()], { user: USER });
    }
  }, 120_000);

  it("a request qsub refuses exits 4 with qsub's words; one Grid Engine cannot express exits 2 before anything is submitted", async () => {
    const refused = await start(w, { resources: { cpus: 1, walltime: '00:05:00', partition: 'no-such-queue' } });
    expect(refused.code).toBe(4);
    expect(refused.out).toMatch(/qsub refused the job:.*no-such-queue/s);
    const qos = await start(w, { resources: { cpus: 1, walltime: '00:05:00', qos: 'high' } });
    expect(qos.code).toBe(2);
    expect(qos.out).toMatch(/Grid Engine cannot express resources\.qos/);
    expect((await ge.jobs()).filter((j) => j.user === USER)).toEqual([]);
  }, 60_000);

  // The qmaster outage is covered end to end (e2e-gridengine.test.ts: the session survives,
  // nothing is orphaned) and, for hpc-wrap's exit codes, by the recorded qmaster-down outputs
  // in test/unit/hpc-wrappers/batch-adapter-replay.test.ts: not repeated here (CI time).

  it('runs a ready batchspawner-style script with its own #$ lines', async () => {
    const script = [
      '#!/bin/bash',
      '#$ -j yes',
      '#$ -v JUPYTERHUB_API_TOKEN',
      `exec ${process.execPath} ${bundle} --config ${w.configPath} start-env -- ${process.execPath} ${TINY_SERVER}`,
      '',
    ].join('\n');
    const { code, jobId, out } = await start(w, { resources: null, script });
    expect(code, out).toBe(0);
    const up = await waitFor(async () => {
      const s = (await jobState(w, jobId)).jobs[jobId]!;
      if (['failed', 'done'].includes(s.state)) throw new Error(`job ended: ${s.outputTail}`);
      return s.state === 'running' && s.server?.phase === 'listening' ? s : null;
    }, 'the ready script to run and listen', 60_000);
    expect(up.server!.port).toBeGreaterThan(0);
    await w.run(['killjob', jobId]);
  }, 120_000);
});

describe("PBS Pro and Torque dialects against slurm-wlm-torque's real qsub/qstat/qdel (over a harness Slurm)", () => {
  let slurm: SlurmCluster;
  let slurmParent: string | undefined;
  let bin: string;
  beforeAll(async () => {
    slurmParent = mkdtempSync('/tmp/hw-pbs-');
    chmodSync(slurmParent, 0o755); // the test account reads slurm.conf and runs the commands in pbs-bin
    slurm = await startSlurm({ dir: join(slurmParent, 'slurm'), users: [USER] });
    bin = pbsCommandsDir(join(slurm.dir, '..'));
  }, 120_000);
  afterAll(async () => {
    await slurm?.stop();
    if (slurmParent) rmSync(slurmParent, { recursive: true, force: true });
  }, 60_000);

  // The wrappers print qstat -f as text only (no -x XML, no -F json): queryFormat text.
  for (const kind of ['torque', 'pbspro'] as const) {
    it(`${kind}: qsub → the bare id, qstat -f → running on the node with the server listening, qdel → ended; qdel again is not an error`, async () => {
      const w = workspace(kind, {
        kind,
        submit: [join(bin, 'qsub')],
        query: [join(bin, 'qstat')],
        cancel: [join(bin, 'qdel')],
        env: slurm.env,
        queryFormat: 'text',
        timeoutSeconds: 20,
      });
      const { code, jobId, out } = await start(w, { resources: { cpus: 2, memoryMB: 256, walltime: '00:05:00' } });
      expect(code, out).toBe(0);
      expect(jobId).toMatch(/^\d+$/);
      const squeue = (await slurm.squeue()).find((j) => j.id === jobId);
      expect(squeue).toMatchObject({ user: USER, name: 'jupyterhub-alice' });
      const up = await waitFor(async () => {
        const s = (await jobState(w, jobId)).jobs[jobId]!;
        if (['failed', 'done', 'cancelled'].includes(s.state)) throw new Error(`job ended: ${JSON.stringify(s)}`);
        return s.state === 'running' && s.server?.phase === 'listening' ? s : null;
      }, 'the job to run and listen', 60_000);
      expect(up.node).toBe(slurm.nodeName);
      expect((await fetch(`http://${up.server!.host}:${up.server!.port}/user/alice/`)).status).toBe(200);

      expect((await w.run(['killjob', jobId])).json).toEqual({ jobId, cancelled: true });
      const end = await waitFor(async () => {
        const s = (await jobState(w, jobId)).jobs[jobId]!;
        return ['cancelled', 'done', 'failed'].includes(s.state) ? s : null;
      }, 'the job to end', 60_000);
      expect(end.state).toBe('cancelled');
      // the wrapper's qdel exits 1 without a word for a finished job: the adapter asks qstat
      const again = await w.run(['killjob', jobId]);
      expect(again.code, again.stdout + again.stderr).toBe(0);
    }, 150_000);
  }
});
