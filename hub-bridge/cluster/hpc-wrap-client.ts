// The bridge's only way to the cluster: run `hpc-wrap startjob | jobstate | killjob`
// through the transport and read their JSON (docs/contracts.md §2-4).
import { capabilitiesSchema, type Capabilities } from '../../contract/capabilities.js';
import { errorDocumentSchema, REFUSAL_CODES, type ErrorCode } from '../../contract/errors.js';
import { jobStateReportSchema, markedJobsReportSchema, type JobStateReport, type MarkedJobsReport } from '../../contract/jobstate.js';
import { killJobResultSchema } from '../../contract/killjob.js';
import { partitionsReportSchema, type PartitionsReport } from '../../contract/partitions.js';
import { startJobResultSchema, type StartJobInput, type StartJobResult } from '../../contract/startjob.js';
import { TransportError, type Transport } from '../transport/types.js';
import { accountingReportSchema, type AccountingReport } from '../../contract/accounting.js';
import { AgentLost, AgentUnavailable, type AgentClient } from './agent-client.js';

export type { JobReport as JobStatus, JobStateReport } from '../../contract/jobstate.js';
export type { PartitionsReport } from '../../contract/partitions.js';
/** hpc-wrap ran and refused (invalid input, maintenance, scheduler said no): not transient. */
export class HpcWrapRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HpcWrapRefusal';
  }
}

/** The startjob document as the bridge builds it (contract/startjob.ts validates it on both sides). */
export type StartJobDocument = StartJobInput;

/** hpc-wrap ran, but the scheduler did not answer (a transient outage): retry until the spawn's deadline. */
export class SchedulerUnreachableError extends TransportError {
  constructor(message: string) {
    super(message);
    this.name = 'SchedulerUnreachableError';
  }
}

function parseJson(stdout: string): unknown {
  const text = stdout.trim();
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export class HpcWrapClient {
  constructor(
    private readonly transport: Transport,
    private readonly hpcWrap: readonly string[],
    private readonly timeoutMs: number,
    /** The long-lived agent (cluster.agent), or null: every call is a one-shot command. */
    readonly agent: AgentClient | null = null,
  ) {}

  get description(): string {
    return `${this.hpcWrap.join(' ')} via ${this.transport.description}${this.agent ? ' (agent)' : ''}`;
  }

  /** Calls made through the agent and as one-shot commands (tests, benchmarks). */
  readonly counts = { agent: 0, oneShot: 0 };

  /**
   * Through the agent when it is up and the command runs as the service account; one-shot
   * when it runs AS the user (identity sudo), when the agent is not up, and once more when
   * the agent was lost during the call (every operation is safe to repeat: startjob
   * returns the first job of a session, killjob of an ended job is no error).
   */
  private async exec(args: string[], stdin: string | undefined, asUser: string | undefined): Promise<{ exitCode: number; out: unknown; detail: () => string }> {
    const asThemselves = asUser !== undefined && this.transport.identity === 'sudo';
    if (this.agent && !asThemselves) {
      try {
        const r = await this.agent.request(args[0]!, args.slice(1), stdin ?? '', this.timeoutMs);
        this.counts.agent++;
        return { exitCode: r.exitCode, out: r.output, detail: () => 'no output' };
      } catch (err) {
        if (!(err instanceof AgentUnavailable) && !(err instanceof AgentLost)) throw err;
      }
    }
    this.counts.oneShot++;
    const r = await this.transport.run([...this.hpcWrap, ...args], { stdin, timeoutMs: this.timeoutMs, ...(asUser ? { asUser } : {}) });
    return { exitCode: r.exitCode, out: parseJson(r.stdout), detail: () => (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-5).join('\n') };
  }

  /** `asUser`: the hub user the command acts for (the ssh transport's identity "sudo" runs it as them). */
  private async call(args: string[], stdin?: string, asUser?: string): Promise<unknown> {
    const r = await this.exec(args, stdin, asUser);
    const out = r.out;
    const err = errorDocumentSchema.safeParse(out);
    if (err.success) {
      const { code, message } = err.data.error;
      if (REFUSAL_CODES.has(code as ErrorCode)) throw new HpcWrapRefusal(code, message);
      if (code === 'unreachable') throw new SchedulerUnreachableError(`hpc-wrap ${args[0]}: ${message}`);
      throw new TransportError(`hpc-wrap ${args[0]}: ${message}`);
    }
    if (r.exitCode !== 0 || out === undefined) {
      const detail = r.detail();
      throw new TransportError(`hpc-wrap ${args[0]} failed (exit ${r.exitCode}): ${detail || 'no output'}`);
    }
    return out;
  }

  async startJob(doc: StartJobDocument): Promise<StartJobResult> {
    const out = await this.call(['startjob'], JSON.stringify(doc), doc.user);
    const parsed = startJobResultSchema.safeParse(out);
    if (!parsed.success) throw new TransportError(`hpc-wrap startjob printed no job id`);
    return parsed.data;
  }

  /** ONE call for all jobs; each names its session and user so hpc-wrap finds the run dir by name. */
  async jobState(jobs: ReadonlyArray<{ jobId: string; sessionId: string; user: string }>): Promise<JobStateReport> {
    const out = await this.call(['jobstate'], JSON.stringify({ version: 1, jobs }));
    const parsed = jobStateReportSchema.safeParse(out);
    if (!parsed.success) throw new TransportError(`hpc-wrap jobstate printed unexpected output: ${parsed.error.message}`);
    return parsed.data;
  }

  /** What the cluster side accepts (WebDAV on, environments): the bridge refuses early what it would refuse. */
  async capabilities(): Promise<Capabilities> {
    const out = await this.call(['capabilities']);
    const parsed = capabilitiesSchema.safeParse(out);
    if (!parsed.success) throw new TransportError(`hpc-wrap capabilities printed unexpected output: ${parsed.error.message}`);
    return parsed.data;
  }

  /** `hpc-wrap accounting ID...`: the scheduler's records of jobs that ended (one call). */
  async accounting(ids: string[]): Promise<AccountingReport> {
    const out = await this.call(['accounting', ...ids]);
    const parsed = accountingReportSchema.safeParse(out);
    if (!parsed.success) throw new TransportError(`hpc-wrap accounting printed unexpected output: ${parsed.error.message}`);
    return parsed.data;
  }

  /** `hpc-wrap partitions`: the scheduler's partitions (null: it has none, e.g. fork). */
  async partitions(): Promise<PartitionsReport> {
    const out = await this.call(['partitions']);
    const parsed = partitionsReportSchema.safeParse(out);
    if (!parsed.success) throw new TransportError(`hpc-wrap partitions printed unexpected output: ${parsed.error.message}`);
    return parsed.data;
  }

  /** `hpc-wrap doctor`: the cluster side's own health report. */
  async doctor(): Promise<unknown> {
    return this.call(['doctor']);
  }

  /** Cancels the session's job (if any) and removes its spool; run as the user (identity sudo). */
  async killJob(ref: { jobId: string | null; sessionId: string; user: string; keepSpool?: boolean }): Promise<void> {
    const out = await this.call(['killjob'], JSON.stringify({ version: 1, ...ref }), ref.user);
    if (!killJobResultSchema.safeParse(out).success) throw new TransportError('hpc-wrap killjob printed unexpected output');
  }

  /** Tells the agent which sessions' run dirs to watch (false: no agent up; the status tick covers them). */
  async watch(sessions: ReadonlyArray<{ sessionId: string; user: string }>): Promise<boolean> {
    if (!this.agent?.isUp) return false;
    const r = await this.agent.request('watch', [], JSON.stringify({ version: 1, sessions }), this.timeoutMs);
    return r.exitCode === 0;
  }

  /** The scheduler's live jobs carrying a session marker (the orphan reaper's view). */
  async markedJobs(): Promise<MarkedJobsReport> {
    const out = await this.call(['marked-jobs']);
    const parsed = markedJobsReportSchema.safeParse(out);
    if (!parsed.success) throw new TransportError(`hpc-wrap marked-jobs printed unexpected output: ${parsed.error.message}`);
    return parsed.data;
  }
}
