// What a student reads from the bridge: one plain sentence (what happened, whose problem,
// what to do, a reference), then the details once. Scheduler refusals use sbatch's words
// recorded from a real Slurm 22.05 (the harness cluster).
import { describe, expect, it } from 'vitest';
import type { JobStatus } from '../../../hub-bridge/cluster/hpc-wrap-client.js';
import { durationText, failureMessage, queuedMessage, readyMessage, splitMessage, stoppedMessage } from '../../../hub-bridge/sessions/progress-messages.js';
import { maintenanceMessage, schedulerRefusal, submitFailedMessage } from '../../../hub-bridge/sessions/refusal-messages.js';

const s = { jobId: '123', number: 7 };
/** A jobstate report of one job, with what the test does not care about left empty. */
const st = (r: Partial<JobStatus> & Pick<JobStatus, 'state'>): JobStatus => ({ node: null, reason: null, position: null, estimatedStart: null, exitCode: null, server: null, outputTail: null, ...r });
const profile = { ...s, profileName: 'GPU (1 GPU)', partition: 'gpu' };

/** The sentence: one line, ends with a reference to quote, no scheduler jargon dump. */
function checkSentence(msg: string, ref = /\(reference: (job 123|session 7)\)\.$/) {
  const { sentence } = splitMessage(msg);
  expect(sentence).not.toContain('\n');
  expect(sentence).toMatch(ref);
  return splitMessage(msg);
}

describe('failures', () => {
  it('a job that dies while starting: plain sentence, then state, exit code and the log tail once', () => {
    const msg = failureMessage(st({ state: 'failed', exitCode: 3, reason: 'NonZeroExitCode', outputTail: 'line 1\nModuleNotFoundError: No module named notebook' }), true, s);
    const { sentence, details } = checkSentence(msg);
    expect(sentence).toBe(
      'Your server stopped while it was starting: the job stopped with an error (most likely a problem of the software environment on the cluster, not of your files); try again, and if it fails again send support the reference (reference: job 123).',
    );
    expect(details).toBe('Job 123 (session 7) ended: state failed, exit code 3, scheduler reason: NonZeroExitCode.\nLast lines of the job output:\nline 1\nModuleNotFoundError: No module named notebook');
    expect(msg.match(/ModuleNotFoundError/g)).toHaveLength(1);
  });

  it('says whose problem it is: time limit, memory, node failure', () => {
    expect(splitMessage(failureMessage(st({ state: 'failed', reason: 'TimeLimit', exitCode: null }), false, s)).sentence).toBe(
      'Your server has ended: the job reached its time limit (this is not an error). Your files are kept; start a new server to go on (reference: job 123).',
    );
    expect(splitMessage(failureMessage(st({ state: 'failed', reason: 'OUT_OF_MEMORY', exitCode: null }), true, s)).sentence).toMatch(/ran out of memory \(your work needed more memory than the choice gives\); start again with a choice that has more memory/);
    expect(splitMessage(failureMessage(st({ state: 'failed', reason: 'NodeFail', exitCode: null }), true, s)).sentence).toMatch(/lost its compute node \(a problem on the cluster, not with your work\)/);
  });

  it('sbatch refusals in plain words; the scheduler\'s own text only as details', () => {
    const partition = 'sbatch: error: invalid partition specified: gpu\nsbatch: error: Batch job submission failed: Invalid partition name specified';
    const { sentence, details } = checkSentence(schedulerRefusal(partition, { ...profile, jobId: null }), /\(reference: session 7\)\.$/);
    expect(sentence).toBe('The cluster refused to start "GPU (1 GPU)": the cluster has no partition "gpu". This is a setup problem of that choice, not yours: pick another choice and tell support (reference: session 7).');
    expect(details).toBe(partition);
    const cpus = 'sbatch refused the job: sbatch exited with status 1: sbatch: error: Batch job submission failed: More processors requested than permitted';
    expect(splitMessage(schedulerRefusal(cpus, profile)).sentence).toMatch(/: it asks for more CPUs than its partition allows\. This is a setup problem of that choice, not yours/);
    expect(splitMessage(schedulerRefusal('sbatch: error: Batch job submission failed: Job violates accounting/QOS policy (job submit limit, user\'s size and/or time limits)', profile)).sentence).toMatch(
      /^The cluster refused to start your server: you have reached the most jobs you may have queued at once\. Stop a server you no longer need, or wait/,
    );
    expect(splitMessage(schedulerRefusal('sbatch: error: something new', profile)).sentence).toMatch(/^The cluster refused to start your server, so nothing was started: pick another choice or try again later/);
  });

  it('maintenance is the operator\'s message; an unreachable login node is "try again"', () => {
    expect(maintenanceMessage('Cluster maintenance until 14:00 (kernel update).')).toBe('Cluster maintenance until 14:00 (kernel update).');
    const { sentence, details } = splitMessage(submitFailedMessage('ssh: connect to host login1 port 22: Connection refused', s));
    expect(sentence).toMatch(/^The cluster could not be reached to start your server, so nothing was started: try again in a few minutes/);
    expect(details).toMatch(/Connection refused/);
  });
});

describe('progress and the end of a stop', () => {
  it('queue: position, reason in words, the scheduler estimate called "at the latest"', () => {
    expect(queuedMessage(st({ state: 'pending', position: 3, reason: 'Priority', estimatedStart: '2026-11-29T10:51:00Z' }))).toBe(
      'Waiting in the queue: 2 jobs ahead (other jobs have priority (Priority)); the scheduler expects to start it at 10:51 UTC at the latest',
    );
    expect(queuedMessage(st({ state: 'pending', position: 1, reason: 'None' }))).toBe('Waiting in the queue: next in line');
  });

  it('ready tells until when it runs', () => {
    expect(readyMessage('cn-014', '2026-11-29T12:30:00.000Z', 7200)).toBe('Your server is ready on cn-014; it runs until 12:30 UTC (2 h limit)');
    expect(readyMessage('cn-014', null, null)).toBe('Your server is ready on cn-014');
  });

  it('a stop confirms the job ended and the files are kept; a cancelled start says who cancelled', () => {
    expect(stoppedMessage(s, 'hub', false)).toBe('Your server was stopped: job 123 has ended and your files are kept (reference: job 123).');
    expect(stoppedMessage(s, 'user', true)).toBe('The start was cancelled by you: job 123 was withdrawn from the queue and nothing keeps running. Start again whenever you like (reference: job 123).');
    expect(stoppedMessage({ jobId: null, number: 7 }, 'hub', true)).toBe('The start was cancelled before your server was ready: nothing was submitted and nothing keeps running (reference: session 7).');
  });

  it('durations read naturally', () => {
    expect([12, 130, 1800, 7200, 5400, 90000].map(durationText)).toEqual(['12 s', '2 min 10 s', '30 min', '2 h', '1 h 30 min', '1 day 1 h']);
  });
});
