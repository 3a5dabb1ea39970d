// `hpc-wrap partitions` through the bundle: Slurm's partitions from ONE sinfo call (replayed
// from a real Slurm, fixtures/sinfo/), null for the fork scheduler, and the scheduler's own
// words when sinfo fails.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSinfoPartitions } from '../../../hpc-wrappers/schedulers/slurm/partitions.js';
import { buildBundle, FIXTURES, makeWorkspace, tempDir, type Workspace } from './support/hpc-wrap-bundle.js';

let bundle: string;
const spaces: Workspace[] = [];
beforeAll(async () => {
  bundle = await buildBundle(tempDir());
});
afterAll(() => spaces.forEach((w) => w.cleanup()));

const replay = (base: string) => [process.execPath, join(FIXTURES, 'scheduler-replay.mjs'), join(FIXTURES, base)];

describe('hpc-wrap partitions', () => {
  it('lists Slurm partitions from one sinfo call: availability, default, hidden ones too', async () => {
    const log = join(tempDir('replay-'), 'calls.jsonl');
    const ws = makeWorkspace(bundle, { scheduler: { kind: 'slurm', partitions: replay('sinfo/partitions'), env: { REPLAY_LOG: log }, timeoutSeconds: 10 } });
    spaces.push(ws);
    const r = await ws.wrap.run(['partitions']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      scheduler: 'slurm',
      partitions: [
        { name: 'debug', available: true, state: 'up', default: true },
        { name: 'gpu', available: false, state: 'down', default: false },
        { name: 'hidden', available: true, state: 'up', default: false },
      ],
    });
    const calls = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { argv: string[] });
    expect(calls.map((c) => c.argv)).toEqual([['--noheader', '--all', '--format=%P|%a']]);
  });

  it('answers null for the fork scheduler (it has no partitions)', async () => {
    const ws = makeWorkspace(bundle, { scheduler: { kind: 'fork' } });
    spaces.push(ws);
    const r = await ws.wrap.run(['partitions']);
    expect(JSON.parse(r.stdout)).toEqual({ scheduler: 'fork', partitions: null });
  });

  it('reports sinfo failing with its own words', async () => {
    const ws = makeWorkspace(bundle, { scheduler: { kind: 'slurm', partitions: replay('squeue/controller-down'), timeoutSeconds: 10 } });
    spaces.push(ws);
    const r = await ws.wrap.run(['partitions']);
    expect(r.code).not.toBe(0);
    const err = JSON.parse(r.stdout).error;
    expect(err.message).toMatch(/^sinfo failed: .*Unable to contact slurm controller/s);
  });

  it('parses repeated and odd lines leniently', () => {
    expect(parseSinfoPartitions('a*|up\na*|up\nb|drain\n\ngarbage line\n')).toEqual([
      { name: 'a', available: true, state: 'up', default: true },
      { name: 'b', available: false, state: 'drain', default: false },
    ]);
  });
});
