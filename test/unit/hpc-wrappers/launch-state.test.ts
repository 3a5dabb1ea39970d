// What `hpc-wrap list/status/clean` call a launch, from its current job's scheduler state,
// whether `stop` was asked, and whether the scheduler answered.
import { describe, expect, it } from 'vitest';
import { launchState, type JobView } from '../../../hpc-wrappers/launch/launch-status.js';
import type { JobState } from '../../../hpc-wrappers/schedulers/types.js';

const job = (state: JobState, phase?: 'listening' | 'environment'): JobView => ({
  n: 1,
  jobId: '42',
  state,
  node: 'node1',
  position: null,
  estimatedStart: null,
  reason: null,
  server: phase ? ({ phase } as JobView['server']) : null,
  exitCode: null,
  runDir: '/nonexistent',
});

describe('launchState', () => {
  it('a job still cleaning up after `stop` cancelled it (Slurm CG) is stopped, so `clean` right after `stop` removes it', () => {
    expect(launchState(job('completing'), '2026-11-29T20:00:00Z', true)).toBe('stopped');
  });
  it('a job cleaning up without `stop` keeps its running/starting state', () => {
    expect(launchState(job('completing', 'listening'), null, true)).toBe('running');
    expect(launchState(job('completing'), null, true)).toBe('starting');
  });
  it('queued, running, ended, failed, stopped and unknown', () => {
    expect(launchState(job('pending'), null, true)).toBe('queued');
    expect(launchState(job('running', 'listening'), null, true)).toBe('running');
    expect(launchState(job('done'), null, true)).toBe('ended');
    expect(launchState(job('failed'), null, true)).toBe('failed');
    expect(launchState(job('cancelled'), '2026-11-29T20:00:00Z', true)).toBe('stopped');
    expect(launchState(job('running'), null, false)).toBe('unknown');
    expect(launchState(null, null, true)).toBe('unknown');
  });
});
