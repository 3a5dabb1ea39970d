// The squeue parser against output recorded from a real Slurm 22.05 (fixtures/README.md).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { arrayTaskCount, inArrayRange } from '../../../hpc-wrappers/schedulers/shared/array-ranges.js';
import { mapSlurmState, SLURM_STATE_TABLE } from '../../../hpc-wrappers/schedulers/slurm/states.js';
import { parseSqueue, slurmTimeToIso, statusFor } from '../../../hpc-wrappers/schedulers/slurm/squeue-parser.js';
import { FIXTURES } from './support/hpc-wrap-bundle.js';

const recorded = (name: string) => readFileSync(join(FIXTURES, 'squeue', name), 'utf8');
const iso = (local: string) => slurmTimeToIso(local);

describe('parseSqueue on recorded output', () => {
  const rows = parseSqueue(recorded('all-states.stdout'));
  const by = (id: string) => rows.find((r) => r.id === id)!;

  it('reads every row with its fields', () => {
    expect(rows.map((r) => r.id)).toEqual(['11', '5', '10_[0-2]', '6', '4', '3', '7', '9', '1', '8', '2']);
    expect(by('1')).toMatchObject({ state: 'running', queueKey: '\u0000debug', nodes: 'hwrec', reason: null, priority: 75 });
    expect(by('5')).toMatchObject({ state: 'pending', reason: 'Resources', nodes: null, estimatedStart: iso('2026-11-22T00:00:06') });
    expect(by('9')).toMatchObject({ state: 'pending', reason: 'JobHeldUser', priority: 0, estimatedStart: null, waiting: false });
    expect(by('10_[0-2]')).toMatchObject({ baseId: '10', arrayTasks: '0-2' });
    expect(by('8').reason).toBe('Nodes required for job are DOWN, DRAINED or reserved for jobs in higher priority partitions');
    expect(by('11').state).toBe('cancelled');
  });

  it('orders pending jobs per partition by priority, then submit time, then id; arrays count per task; held jobs have no place', () => {
    // debug: 5 (prio 100), 3 and 4 (75, submitted first), 6 and 10_[0-2] (75, later; 3 tasks), 7 (prio 1); 9 held.
    expect(by('5').position).toBe(1);
    expect(by('3').position).toBe(2);
    expect(by('4').position).toBe(3);
    expect(by('6').position).toBe(4);
    expect(by('10_[0-2]').position).toBe(5);
    expect(by('7').position).toBe(8);
    expect(by('9').position).toBeNull();
    // gpu has its own queue.
    expect(by('8').position).toBe(1);
    expect(by('1').position).toBeNull();
  });

  it('gives the status of requested ids, with the estimated start in UTC', () => {
    expect(statusFor('5', rows)).toEqual({
      state: 'pending',
      node: null,
      reason: 'Resources',
      position: 1,
      estimatedStart: iso('2026-11-22T00:00:06'),
      exitCode: null,
    });
    expect(statusFor('9', rows)).toMatchObject({ state: 'pending', estimatedStart: null, position: null, reason: 'JobHeldUser' });
    expect(statusFor('1', rows)).toMatchObject({ state: 'running', node: 'hwrec', reason: null, estimatedStart: null });
    expect(statusFor('424242', rows)).toBeNull();
  });

  it('maps an array job id and one task of a pending array range', () => {
    expect(statusFor('10', rows)).toMatchObject({ state: 'pending', position: 5 });
    expect(statusFor('10_1', rows)).toMatchObject({ state: 'pending', position: 5 });
    expect(statusFor('10_7', rows)).toBeNull();
  });

  it('reads finished states and their reasons', () => {
    const done = parseSqueue(recorded('finished-states.stdout'));
    expect(statusFor('3', done)).toMatchObject({ state: 'failed', reason: 'NonZeroExitCode', node: 'hwrec' });
    expect(statusFor('4', done)).toMatchObject({ state: 'done', reason: null });
    expect(statusFor('5', done)).toMatchObject({ state: 'cancelled', estimatedStart: null, position: null });
    expect(statusFor('9', done)).toMatchObject({ state: 'pending', position: null });
  });
});

describe('parseSqueue on shapes not recordable here', () => {
  it('folds het components and running array tasks into the plain id, keeping nodes', () => {
    const rows = parseSqueue(
      ['77+0|RUNNING|debug|10|2026-01-01T10:00:00|2026-01-01T10:00:01|None|cn-1', '77+1|RUNNING|debug|10|2026-01-01T10:00:00|2026-01-01T10:00:01|None|cn-2'].join('\n'),
    );
    expect(statusFor('77', rows)).toMatchObject({ state: 'running', node: 'cn-1,cn-2' });
  });

  it('keys rows by cluster after a CLUSTER: header (squeue -M)', () => {
    const rows = parseSqueue(
      ['CLUSTER: alpha', '5|PENDING|p|10|2026-01-01T10:00:00|N/A|Priority|', 'CLUSTER: beta', '5|RUNNING|p|10|2026-01-01T10:00:00|2026-01-01T10:00:01|None|b-1'].join('\n'),
    );
    expect(statusFor('5;alpha', rows)).toMatchObject({ state: 'pending', position: 1 });
    expect(statusFor('5;beta', rows)).toMatchObject({ state: 'running', node: 'b-1' });
    expect(statusFor('5', rows)).toBeNull();
  });

  it('ignores lines that are not rows and keeps a reason that contains the separator', () => {
    const rows = parseSqueue('squeue: warning: something\n\n6|PENDING|p|1|2026-01-01T10:00:00|N/A|a|b|\n');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.reason).toBe('a|b');
  });
});

describe('state table and small parsers', () => {
  it('maps every Slurm state with one table', () => {
    expect(mapSlurmState('PENDING')).toBe('pending');
    expect(mapSlurmState('CONFIGURING')).toBe('pending');
    expect(mapSlurmState('REQUEUED')).toBe('pending');
    expect(mapSlurmState('SUSPENDED')).toBe('pending');
    expect(mapSlurmState('RUNNING')).toBe('running');
    expect(mapSlurmState('COMPLETING')).toBe('completing');
    expect(mapSlurmState('COMPLETED')).toBe('done');
    for (const s of ['FAILED', 'TIMEOUT', 'NODE_FAIL', 'OUT_OF_MEMORY', 'BOOT_FAIL', 'DEADLINE', 'PREEMPTED']) expect(mapSlurmState(s)).toBe('failed');
    expect(mapSlurmState('CANCELLED')).toBe('cancelled');
    expect(mapSlurmState('CANCELLED by 1000')).toBe('cancelled');
    expect(mapSlurmState('SOMETHING_NEW')).toBe('unknown');
    expect(Object.values(SLURM_STATE_TABLE)).not.toContain('unknown');
  });

  it('counts array tasks of a range spec (Slurm, Grid Engine and PBS spell them alike)', () => {
    expect(arrayTaskCount('0-2')).toBe(3);
    expect(arrayTaskCount('0-9%2')).toBe(10);
    expect(arrayTaskCount('1,3,5-6')).toBe(4);
    expect(arrayTaskCount('0-10:5')).toBe(3);
    expect(arrayTaskCount('1-4:1')).toBe(4);
    expect(arrayTaskCount('garbage')).toBe(1);
    expect(inArrayRange('0-10:5', 5)).toBe(true);
    expect(inArrayRange('0-10:5', 6)).toBe(false);
    expect(inArrayRange('2,3', 3)).toBe(true);
  });

  it('converts Slurm local times and refuses placeholders', () => {
    const t = slurmTimeToIso('2026-11-22T00:00:06')!;
    expect(t).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(new Date(t).getTime()).toBe(new Date(2026, 10, 22, 0, 0, 6).getTime());
    expect(slurmTimeToIso(null)).toBeNull();
    expect(slurmTimeToIso('Unknown')).toBeNull();
  });
});
