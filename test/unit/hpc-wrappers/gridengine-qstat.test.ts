// Grid Engine's qstat -xml parsers against output recorded from a real Grid Engine 8.1.9
// (fixtures/gridengine/README.md), plus the shapes one host cannot produce.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gridEngineDialect } from '../../../hpc-wrappers/schedulers/gridengine/dialect.js';
import { mapGridEngineState, parseMarkedJobs, parseQstatJobMessages, parseQstatXml } from '../../../hpc-wrappers/schedulers/gridengine/qstat-xml.js';
import { assignPositions, indexListing, statusFor } from '../../../hpc-wrappers/schedulers/shared/listing.js';
import { FIXTURES } from './support/hpc-wrap-bundle.js';

const recorded = (name: string) => readFileSync(join(FIXTURES, 'gridengine', name), 'utf8');

function listing(xml: string) {
  const rows = parseQstatXml(xml);
  assignPositions(rows);
  const index = indexListing(rows);
  return { rows, status: (id: string) => statusFor(id, index, gridEngineDialect.arrayTask) };
}

describe('qstat -xml -u * (recorded)', () => {
  const { rows, status } = listing(recorded('qstat-all.stdout'));

  it('reads every job and task with its state, node and slots', () => {
    expect(rows.map((r) => r.id)).toEqual(['1', '2', '3.1', '3.2', '3.3', '4', '10', '11', '9', '12.1,3', '7']);
    expect(status('1')).toMatchObject({ state: 'running', node: 'localhost', position: null });
    expect(status('2')).toMatchObject({ state: 'running', node: 'localhost' });
    expect(status('9')).toMatchObject({ state: 'failed', position: null });
    expect(status('9')!.reason).toMatch(/error state/);
    expect(status('7')).toMatchObject({ state: 'pending', position: null, reason: 'the job is held' });
    expect(status('424242')).toBeNull();
  });

  it("gives waiting jobs positions in the scheduler's order (priority, then submit time); arrays count per task; held and error jobs none", () => {
    expect(status('11')).toMatchObject({ state: 'pending', position: 1, estimatedStart: null, reason: null });
    expect(rows.find((r) => r.id === '12.1,3')).toMatchObject({ arrayTasks: '1,3', position: 2 });
    expect(rows.find((r) => r.id === '9')!.position).toBeNull();
  });

  it('folds an array into its job id and finds a task (running alone, or in a pending range)', () => {
    expect(status('3')).toMatchObject({ state: 'running', node: 'localhost' });
    expect(status('3.2')).toMatchObject({ state: 'running' });
    expect(status('12')).toMatchObject({ state: 'pending', position: 2 });
    expect(status('12.3')).toMatchObject({ state: 'pending', position: 2 });
    expect(status('12.2')).toBeNull();
  });
});

describe('qstat -xml -j (recorded): the scheduler\'s reasons', () => {
  it("gives a job its own messages, else the global ones", () => {
    const reasons = parseQstatJobMessages(recorded('qstat-j-pending.stdout'));
    expect(reasons.get('9')).toBe('Job is in error state');
    expect(reasons.get('7')).toBe('Job is in hold state');
    expect(reasons.get('11')).toBe('queue instance "harness.q@localhost" dropped because it is full; All queues dropped because of overload or full');
    expect(reasons.get('12')).toBe(reasons.get('11'));
  });
});

describe('state letters and shapes one host cannot record', () => {
  it('maps every state code qstat(1) lists with one table', () => {
    const cases: [string, string][] = [
      ['qw', 'pending'], ['hqw', 'pending'], ['hRwq', 'pending'], ['r', 'running'], ['t', 'running'], ['Rr', 'running'],
      ['Rt', 'running'], ['s', 'pending'], ['ts', 'pending'], ['S', 'pending'], ['tS', 'pending'], ['T', 'pending'],
      ['tT', 'pending'], ['Rs', 'pending'], ['Eqw', 'failed'], ['Ehqw', 'failed'], ['EhRqw', 'failed'], ['dr', 'completing'],
      ['dt', 'completing'], ['dRr', 'completing'], ['ds', 'completing'], ['dS', 'completing'], ['dT', 'completing'], ['z', 'done'],
    ];
    for (const [code, state] of cases) expect(mapGridEngineState(code), code).toBe(state);
    expect(mapGridEngineState('?')).toBe('unknown');
  });

  it('reads the host of a job on another node and ignores what is not a job', () => {
    const xml = `<?xml version='1.0'?><job_info><queue_info><job_list state="running"><JB_job_number>77</JB_job_number><JAT_prio>0.5</JAT_prio><JB_name>x</JB_name><JB_owner>u</JB_owner><state>r</state><JAT_start_time>2026-01-01T10:00:00</JAT_start_time><queue_name>gpu.q@node-07.cluster.example</queue_name><slots>8</slots></job_list><job_list><JB_job_number>oops</JB_job_number></job_list></queue_info><job_info></job_info></job_info>`;
    const rows = parseQstatXml(xml);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: '77', state: 'running', nodes: 'node-07.cluster.example' });
  });

  it('reads an empty listing', () => {
    expect(parseQstatXml("<?xml version='1.0'?>\n<job_info>\n  <queue_info>\n  </queue_info>\n  <job_info>\n  </job_info>\n</job_info>\n")).toEqual([]);
  });
});

describe("qstat -xml -j '*' (recorded): jobs by session marker", () => {
  it('lists the live jobs whose context holds a marker with the prefix, with their state and owner', () => {
    const text = readFileSync(join(FIXTURES, 'gridengine', 'qstat-j-all.stdout'), 'utf8');
    expect(parseMarkedJobs(text, 'hpc-bridge:')).toEqual([
      { jobId: '1', marker: 'hpc-bridge:s-abc', state: 'running', user: 'hpctest1' },
      { jobId: '3', marker: 'hpc-bridge:s-def', state: 'pending', user: 'hpctest1' },
    ]);
    expect(parseMarkedJobs(text, 'hpc-bridge:s-def')).toHaveLength(1);
    expect(parseMarkedJobs("<?xml version='1.0'?>\n<unknown_jobs >\n</unknown_jobs>\n", 'hpc-bridge:')).toEqual([]);
  });
});
