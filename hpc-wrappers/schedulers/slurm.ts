// Slurm: a declarative description (commands from the config, the options each
// generic field becomes, the messages that mean "gone" or "unreachable") plus the
// squeue parser. Job ids are what `sbatch --parsable` prints: `123`, or `123;cluster`
// on a multi-cluster site; squeue/scancel then get `--clusters=<cluster>`.
import type { Resources, SlurmSchedulerConfig } from '../../config/schema.js';
import { validateJobId } from '../../contract/names.js';
import { WrapError } from '../errors.js';
import { runArgv, schedulerMessage, type CommandResult } from './run-command.js';
import { indexRows, parseSqueue, SQUEUE_FORMAT, statusFor } from './squeue-parser.js';
import { mapSlurmState } from './slurm-states.js';
import type { JobSubmission, MarkedJob, MarkedJobs, OwnedJobsResult, QueryResult, SchedulerAdapter, SchedulerJobStatus } from './types.js';
import { slurmAccounting } from './slurm-accounting.js';
import type { AccountingResult } from './accounting-types.js';
import { ownedJobsArgs, parseOwnedJobs } from './slurm-owned-jobs.js';

/** sbatch interprets % in --output as a pattern (%j …); %% is a literal %. */
const outputPattern = (p: string) => p.replace(/%/g, '%%');

export function resourceOptions(r: Resources): string[] {
  const opts: string[] = [];
  if (r.partition) opts.push(`--partition=${r.partition}`);
  opts.push(`--cpus-per-task=${r.cpus}`);
  if (r.memoryMB !== null) opts.push(`--mem=${r.memoryMB}M`);
  if (r.nodes != null) opts.push(`--nodes=${r.nodes}`);
  if (r.ntasksPerNode != null) opts.push(`--ntasks-per-node=${r.ntasksPerNode}`);
  const gres = [...(r.gpus > 0 ? [`gpu:${r.gpus}`] : []), ...(r.gres ?? [])];
  if (gres.length) opts.push(`--gres=${gres.join(',')}`);
  opts.push(`--time=${r.walltime}`);
  if (r.account) opts.push(`--account=${r.account}`);
  if (r.qos) opts.push(`--qos=${r.qos}`);
  if (r.reservation) opts.push(`--reservation=${r.reservation}`);
  if (r.constraint) opts.push(`--constraint=${r.constraint}`);
  opts.push(...r.extraArgs);
  return opts;
}

export const slurmDialect = {
  name: 'slurm',
  submitArgs(job: JobSubmission): string[] {
    // The command line wins over a ready script's #SBATCH lines, so the marker always holds.
    const args = [`--job-name=${job.name}`, `--output=${outputPattern(job.outputPath)}`, `--comment=${job.marker}`];
    if (job.afterJob) args.push(`--dependency=afterany:${job.afterJob.split(';')[0]}`);
    if (job.resources) {
      if (job.chdir) args.push(`--chdir=${job.chdir}`);
      args.push(...resourceOptions(job.resources));
    } else {
      // A ready script (batchspawner's) says `#SBATCH --export=<its keepvars>`, which would
      // drop HPC_WRAP_RUN_DIR: the command line wins over #SBATCH lines. The hub's variables
      // are not in this environment anyway; they reach the job through the spool.
      args.push('--export=ALL');
    }
    args.push(job.scriptPath);
    return args;
  },
  /** `123` or `123;cluster` on the last non-empty line (sbatch may print warnings first). */
  parseSubmit(stdout: string): string | null {
    const line = stdout.trim().split('\n').pop()?.trim() ?? '';
    return /^\d+(_\d+)?(;[A-Za-z0-9_.-]+)?$/.test(line) ? line : null;
  },
  queryArgs(ids: string[], queuePosition: boolean): string[] {
    const clusters = [...new Set(ids.map((id) => id.split(';')[1]).filter((c): c is string => Boolean(c)))];
    const args = ['--noheader', '--states=all', `--format=${SQUEUE_FORMAT}`];
    if (clusters.length) args.push(`--clusters=${clusters.join(',')}`);
    // With queue positions every job is listed (still one call); else only ours.
    if (!queuePosition) args.push(`--jobs=${[...new Set(ids.map((id) => id.split(';')[0]))].join(',')}`);
    return args;
  },
  /** Live jobs with their comment (last: a foreign comment may contain the separator). */
  markedArgs(): string[] {
    return ['--noheader', '--states=PENDING,CONFIGURING,RUNNING,COMPLETING,SUSPENDED,REQUEUED,RESIZING', '--format=%i|%u|%T|%k'];
  },
  cancelArgs(id: string): string[] {
    const [job, cluster] = id.split(';');
    return cluster ? [`--clusters=${cluster}`, job!] : [job!];
  },
  /** squeue -j with a single id the controller has forgotten exits 1 with this text. */
  forgotten: /Invalid job id specified/i,
  /** scancel of a job that is already over. */
  alreadyOver: /Invalid job id specified|already completing or completed|Job has already finished/i,
  /** The controller did not answer (an outage or a restart): transient, the bridge retries. */
  unreachable: /Unable to contact slurm controller|Socket timed out on send\/recv|backup controller in standby mode|Transport endpoint is not connected/i,
};

/** `unreachable` when sbatch/scancel did not get an answer from the controller, else `scheduler` (it answered: no). */
function failureCode(r: CommandResult): 'unreachable' | 'scheduler' {
  return r.timedOut || slurmDialect.unreachable.test(r.stderr) ? 'unreachable' : 'scheduler';
}

export class SlurmAdapter implements SchedulerAdapter {
  readonly name = 'slurm';

  constructor(private readonly cfg: SlurmSchedulerConfig) {}

  private run(argv: string[]): Promise<CommandResult> {
    return runArgv(argv, { env: this.cfg.env, timeoutMs: this.cfg.timeoutSeconds * 1000 });
  }

  async submit(job: JobSubmission): Promise<{ jobId: string }> {
    const argv = [...this.cfg.submit, ...slurmDialect.submitArgs(job)];
    const r = await runArgv(argv, { env: { ...this.cfg.env, ...job.env }, timeoutMs: this.cfg.timeoutSeconds * 1000 });
    if (!r.ok) {
      const code = failureCode(r);
      throw new WrapError(code, code === 'unreachable' ? `the Slurm controller did not answer sbatch: ${schedulerMessage(r)}` : `sbatch refused the job: ${schedulerMessage(r)}`, {
        mayHaveSubmitted: r.timedOut,
      });
    }
    const id = slurmDialect.parseSubmit(r.stdout);
    if (!id) throw new WrapError('scheduler', `sbatch printed no job id (is --parsable in scheduler.submit?): ${JSON.stringify(r.stdout.slice(0, 200))}`);
    return { jobId: validateJobId(id) };
  }

  /**
   * One squeue call for all ids. Only a mix of ids with and without a cluster part
   * (which a site does not produce) needs a second call, because `--clusters` hides
   * the local cluster.
   */
  async query(ids: string[]): Promise<QueryResult> {
    const jobs = new Map<string, SchedulerJobStatus>();
    const groups = [ids.filter((id) => !id.includes(';')), ids.filter((id) => id.includes(';'))].filter((g) => g.length > 0);
    const errors: string[] = [];
    for (const group of groups) {
      const r = await this.run([...this.cfg.query, ...slurmDialect.queryArgs(group, this.cfg.queuePosition)]);
      if (!r.ok) {
        if (!r.timedOut && r.exitCode !== null && slurmDialect.forgotten.test(r.stderr)) continue;
        errors.push(schedulerMessage(r));
        continue;
      }
      const rows = indexRows(parseSqueue(r.stdout));
      for (const id of group) {
        const status = statusFor(id, rows);
        if (status) jobs.set(id, status);
      }
    }
    if (errors.length) return { reachable: false, error: errors.join('; '), jobs: new Map() };
    return { reachable: true, error: null, jobs };
  }

  async cancel(id: string): Promise<void> {
    const r = await this.run([...this.cfg.cancel, ...slurmDialect.cancelArgs(validateJobId(id))]);
    if (r.ok || (!r.timedOut && slurmDialect.alreadyOver.test(r.stderr))) return;
    throw new WrapError(failureCode(r), `scancel failed for job ${id}: ${schedulerMessage(r)}`);
  }

  async findMarked(prefix: string): Promise<MarkedJobs> {
    const r = await this.run([...this.cfg.query, ...slurmDialect.markedArgs()]);
    if (!r.ok) return { reachable: false, error: schedulerMessage(r), jobs: [] };
    const jobs: MarkedJob[] = [];
    for (const line of r.stdout.split('\n')) {
      const [id, user, state, ...rest] = line.trim().split('|');
      const comment = rest.join('|');
      if (!id || !comment.startsWith(prefix)) continue;
      jobs.push({ jobId: id, marker: comment, state: mapSlurmState(state ?? ''), user: user || null });
    }
    return { reachable: true, error: null, jobs };
  }

  /** sacct, one call for all ids (slurm-accounting.ts). */
  accounting(ids: string[]): Promise<AccountingResult> {
    return slurmAccounting(this.cfg, ids);
  }

  async ownedJobs(filter: { users?: string[]; ids?: string[] }): Promise<OwnedJobsResult> {
    const r = await this.run([...this.cfg.query, ...ownedJobsArgs(filter)]);
    if (!r.ok) {
      if (!r.timedOut && r.exitCode !== null && slurmDialect.forgotten.test(r.stderr)) return { reachable: true, error: null, jobs: [] };
      return { reachable: false, error: schedulerMessage(r), jobs: [] };
    }
    return { reachable: true, error: null, jobs: parseOwnedJobs(r.stdout) };
  }

  async setComment(id: string, comment: string): Promise<void> {
    const [job, cluster] = validateJobId(id).split(';');
    const r = await this.run([...this.cfg.control, ...(cluster ? [`--clusters=${cluster}`] : []), 'update', `JobId=${job}`, `Comment=${comment}`]);
    if (!r.ok) throw new WrapError('scheduler', `scontrol could not set the comment of job ${id}: ${schedulerMessage(r)}`);
  }

  describe() {
    return {
      name: 'slurm',
      batchSystem: true,
      summary: `Slurm via ${this.cfg.submit.join(' ')} / ${this.cfg.query.join(' ')} / ${this.cfg.cancel.join(' ')}`,
    };
  }
}
