// A TEST DOUBLE of the bridge's hpc-wrap client, for hub-side logic only (status pace,
// host rule, submission queue, store writes): it answers startjob / jobstate / killjob from
// a script the test writes, counts calls and records what it was asked. What it stands
// for (hpc-wrap on a real scheduler) is covered by the system tests; this one exists to
// give scheduler answers that cannot be produced here (a node named unlike this host,
// thousands of queued jobs) and to count calls without timing anything.
import type { HpcWrapClient, JobStatus, StartJobDocument } from '../../hub-bridge/cluster/hpc-wrap-client.js';
import type { JobStateReport } from '../../contract/jobstate.js';

export type ScriptedStatus = Partial<JobStatus> & Pick<JobStatus, 'state'>;

export class ScriptedCluster {
  startJobCalls = 0;
  jobStateCalls = 0;
  killJobCalls = 0;
  /** The job ids asked about in each jobstate call. */
  asked: string[][] = [];
  /** startjob calls running right now, and the most seen at once. */
  submitting = 0;
  maxSubmitting = 0;
  /** How long a startjob takes (ms). */
  submitMs = 0;
  /** While set, every startjob waits for this promise (a closed gate). */
  gate: Promise<void> | null = null;
  scheduler = 'slurm';
  private nextJob = 1000;
  /** jobId → status; absent = pending. */
  readonly states = new Map<string, ScriptedStatus>();

  status(jobId: string, st: ScriptedStatus): void {
    this.states.set(jobId, st);
  }

  asClient(): HpcWrapClient {
    return this as unknown as HpcWrapClient;
  }

  async startJob(_doc: StartJobDocument): Promise<{ jobId: string }> {
    this.startJobCalls++;
    this.submitting++;
    this.maxSubmitting = Math.max(this.maxSubmitting, this.submitting);
    try {
      if (this.gate) await this.gate;
      if (this.submitMs) await new Promise((r) => setTimeout(r, this.submitMs));
      return { jobId: String(this.nextJob++) };
    } finally {
      this.submitting--;
    }
  }

  async jobState(jobs: ReadonlyArray<{ jobId: string }>): Promise<JobStateReport> {
    this.jobStateCalls++;
    this.asked.push(jobs.map((j) => j.jobId));
    const out: JobStateReport['jobs'] = {};
    for (const j of jobs) {
      const st = this.states.get(j.jobId) ?? { state: 'pending', position: 3, reason: 'Priority' };
      out[j.jobId] = { node: null, reason: null, position: null, estimatedStart: null, exitCode: null, server: null, outputTail: null, ...st };
    }
    // as hpc-wrap reports it: the fork scheduler is no batch system (its jobs run where hpc-wrap runs)
    return { scheduler: { name: this.scheduler, reachable: true, error: null, batchSystem: this.scheduler !== 'fork' }, jobs: out };
  }

  /** The next this-many killjob calls fail (hpc-wrap or the scheduler did not answer). */
  killFailures = 0;

  async killJob(): Promise<void> {
    this.killJobCalls++;
    if (this.killFailures > 0) {
      this.killFailures--;
      throw new Error('scancel: Unable to contact slurm controller (connect failure)');
    }
  }
}
