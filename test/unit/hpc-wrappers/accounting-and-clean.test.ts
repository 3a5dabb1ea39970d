// `hpc-wrap accounting` through the bundle with sacct replaced by a TEST DOUBLE that replays
// output recorded from a real Slurm + slurmdbd (fixtures/README.md, sacct/); `hpc-wrap clean`
// on the fork scheduler with real jobs. The real sacct is exercised by
// test/system/accounting-slurmdbd.test.ts.
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSacct, parseTres, sacctArgs, SACCT_FIELDS, slurmDuration } from '../../../hpc-wrappers/schedulers/slurm/accounting.js';
import { buildBundle, FIXTURES, makeWorkspace, newSessionId, startRequest, tempDir, waitFor, type Workspace } from './support/hpc-wrap-bundle.js';

let bundle: string;
const spaces: Workspace[] = [];
beforeAll(async () => {
  bundle = await buildBundle(tempDir());
});
afterAll(() => spaces.forEach((w) => w.cleanup()));

const replay = (base: string) => [process.execPath, join(FIXTURES, 'scheduler-replay.mjs'), join(FIXTURES, base)];

function sacctWorkspace(base: string) {
  const callsFile = join(tempDir('replay-'), 'calls.jsonl');
  const ws = makeWorkspace(bundle, {
    scheduler: { kind: 'slurm', accounting: replay(base), env: { REPLAY_LOG: callsFile }, timeoutSeconds: 10 },
  });
  spaces.push(ws);
  const calls = () => (existsSync(callsFile) ? readFileSync(callsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { argv: string[]; env: Record<string, string> }) : []);
  return { ws, calls };
}

describe('sacct parsing (recorded output)', () => {
  it('reads the jobs that ended with the figures sacct recorded, and skips a running one', () => {
    const jobs = parseSacct(readFileSync(join(FIXTURES, 'sacct/ended.stdout'), 'utf8'));
    expect([...jobs.keys()]).toEqual(['1', '2', '3']);
    expect(jobs.get('1')).toEqual({
      state: 'COMPLETED', exitCode: 0, signal: 0, elapsedSeconds: 2, cpuSeconds: 4, usedCpuSeconds: 0, cpus: 2, gpus: 0, memoryMB: 300,
      account: 'root', partition: 'debug', nodes: 'vm',
      submittedAt: '2026-11-29T11:09:49.000Z', startedAt: '2026-11-29T11:09:52.000Z', endedAt: '2026-11-29T11:09:54.000Z',
    });
    expect(jobs.get('2')).toMatchObject({ state: 'FAILED', exitCode: 3, cpuSeconds: 0 });
    expect(jobs.get('3')).toMatchObject({ state: 'CANCELLED', cpuSeconds: 1 });
  });

  it('reads GPUs and memory units from AllocTRES and durations from TotalCPU', () => {
    expect(parseTres('billing=8,cpu=8,gres/gpu=2,gres/gpu:a100=2,mem=64G,node=1')).toEqual({ gpus: 2, memoryMB: 65536 });
    expect(parseTres('cpu=1,gres/gpu:v100=1,gres/gpu:a100=2,mem=1.5G')).toEqual({ gpus: 3, memoryMB: 1536 });
    expect(parseTres('')).toEqual({ gpus: null, memoryMB: null });
    expect(slurmDuration('00:01.500')).toBe(1.5);
    expect(slurmDuration('01:02:03')).toBe(3723);
    expect(slurmDuration('2-00:00:10')).toBe(172810);
    expect(slurmDuration('Unknown')).toBeNull();
  });

  it('asks for every id of a cluster in one call', () => {
    expect(sacctArgs(['1', '2', '3'], null)).toEqual(['--parsable2', '--noheader', '--allocations', `--format=${SACCT_FIELDS.join(',')}`, '--jobs=1,2,3']);
    expect(sacctArgs(['7'], 'west')).toContain('--clusters=west');
  });
});

describe('hpc-wrap accounting', () => {
  it('makes ONE sacct call for all ids, with epoch times, and prints only jobs that ended', async () => {
    const { ws, calls } = sacctWorkspace('sacct/ended');
    const r = await ws.wrap.run(['accounting', '1', '2', '3', '4']);
    expect(r.code, r.stderr).toBe(0);
    const out = r.json as { scheduler: Record<string, unknown>; jobs: Record<string, { state: string; cpuSeconds: number }> };
    expect(out.scheduler).toEqual({ name: 'slurm', available: true, reachable: true, error: null });
    expect(Object.keys(out.jobs)).toEqual(['1', '2', '3']);
    expect(out.jobs['1']!.cpuSeconds).toBe(4);
    expect(calls()).toHaveLength(1);
    expect(calls()[0]!.argv).toContain('--jobs=1,2,3,4');
    expect(calls()[0]!.env.SLURM_TIME_FORMAT).toBe('%s');
  });

  it('says accounting is not available when Slurm runs without slurmdbd (exit 0, not an error)', async () => {
    const { ws } = sacctWorkspace('sacct/disabled');
    const r = await ws.wrap.run(['accounting', '1']);
    expect(r.code).toBe(0);
    expect(r.json).toEqual({ scheduler: { name: 'slurm', available: false, reachable: true, error: expect.stringMatching(/accounting storage is disabled/) }, jobs: {} });
  });

  it('says accounting did not answer when slurmdbd is down (ask again later)', async () => {
    const { ws } = sacctWorkspace('sacct/unreachable');
    const r = await ws.wrap.run(['accounting', '1']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ scheduler: { available: true, reachable: false, error: expect.stringMatching(/Problem talking to the database/) }, jobs: {} });
  });

  it('answers available: false on the fork scheduler, and refuses a bad job id', async () => {
    const ws = makeWorkspace(bundle);
    spaces.push(ws);
    const r = await ws.wrap.run(['accounting', 'fork-1']);
    expect(r.json).toMatchObject({ scheduler: { name: 'fork', available: false, error: expect.stringMatching(/keeps no accounting/) } });
    const bad = await ws.wrap.run(['accounting', '1;rm -rf /']);
    expect(bad.code).toBe(2);
  });
});

describe('hpc-wrap clean', () => {
  it('removes old run dirs of jobs that are over, keeps live and recent ones, and asks the scheduler first', async () => {
    const ws = makeWorkspace(bundle);
    spaces.push(ws);
    const start = async (extra: Record<string, unknown> = {}) => {
      const r = await ws.wrap.run(['startjob'], { input: JSON.stringify(startRequest(extra)) });
      expect(r.code, r.stderr).toBe(0);
      return r.json as { jobId: string; runDir: string };
    };
    const over = await start({ command: [process.execPath, '-e', 'process.exit(0)'] });
    const live = await start({ sessionId: newSessionId(), user: 'bob' });
    await waitFor(async () => {
      const s = (await ws.wrap.run(['jobstate', over.jobId, live.jobId])).json as { jobs: Record<string, { state: string; server: { phase: string } | null }> };
      return s.jobs[over.jobId]!.state !== 'running' && s.jobs[live.jobId]!.server?.phase === 'listening';
    }, 'one job over, one listening');
    // a run dir without a job (the submit never happened), old too
    const orphan = join(ws.workDir, 'users', 'carol', 'sessions', newSessionId());
    mkdirSync(orphan, { recursive: true });
    writeFileSync(join(orphan, 'job.sh'), '#!/bin/sh\n');
    const old = (Date.now() - 3 * 86400_000) / 1000;
    for (const dir of [over.runDir, live.runDir, orphan]) {
      for (const f of ['', 'status.json', 'output.log', 'exit.json', 'job.sh', 'jobid']) if (existsSync(join(dir, f))) utimesSync(join(dir, f), old, old);
    }
    const recent = await start({ sessionId: newSessionId(), user: 'dave', command: [process.execPath, '-e', 'process.exit(0)'] });

    const dry = await ws.wrap.run(['clean', '--older-than', '2d', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect((dry.json as { removed: unknown[] }).removed).toHaveLength(2);
    expect(existsSync(over.runDir)).toBe(true);

    const r = await ws.wrap.run(['clean', '--older-than', '2d']);
    const rep = r.json as { removed: { runDir: string; jobId: string | null }[]; keptLive: number; keptRecent: number };
    expect(rep.removed.map((x) => x.runDir).sort()).toEqual([over.runDir, orphan].sort());
    expect(rep.keptLive).toBe(1);
    expect(rep.keptRecent).toBe(1);
    expect(existsSync(over.runDir)).toBe(false);
    expect(existsSync(live.runDir)).toBe(true);
    expect(existsSync(recent.runDir)).toBe(true);
    await ws.wrap.run(['killjob', live.jobId]);
  }, 60_000);

  it('refuses an age it cannot read, with what is allowed', async () => {
    const ws = makeWorkspace(bundle);
    spaces.push(ws);
    const r = await ws.wrap.run(['clean', '--older-than', 'yesterday']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/number and a unit/);
  });
});
