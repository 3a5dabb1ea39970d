// Slurm as data: sbatch / squeue / scancel, the options each resource becomes, the
// messages that mean "gone", and the squeue parser. Job ids are what `sbatch --parsable`
// prints: `123`, or `123;cluster` on a multi-cluster site; squeue/scancel then get
// `--clusters=<cluster>`.
import type { Resources } from '../../../config/schema.js';
import { argv } from '../../../config/schema-argv.js';
import { defineDialect } from '../dialect.js';
import { parseSacct, SACCT_NOT_AVAILABLE, sacctCalls } from './accounting.js';
import { ownedJobsArgs, parseOwnedJobs } from './owned-jobs.js';
import { parseSinfoPartitions, SINFO_ARGS } from './partitions.js';
import { parseSqueue, slurmArrayTask, SQUEUE_FORMAT } from './squeue-parser.js';
import { mapSlurmState, SLURM_STATE_TABLE } from './states.js';
import type { MarkedJob } from '../types.js';

/** sbatch interprets % in --output as a pattern (%j …); %% is a literal %. */
const outputPattern = (p: string) => p.replace(/%/g, '%%');

export function slurmResourceArgs(r: Resources): string[] {
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

const program = (argv: readonly string[]) => (argv[0] ?? '').split('/').pop() ?? '';

export const slurmDialect = defineDialect({
  kind: 'slurm',
  title: 'Slurm',
  summary: 'sbatch / squeue / scancel; queue position, estimated start and reason from ONE squeue call.',
  commands: { submit: ['sbatch', '--parsable'], query: ['squeue'], cancel: ['scancel'] },
  appends: {
    submit: 'hpc-wrap appends the options and the script path.',
    query: 'hpc-wrap appends --noheader, --states, --format and the job list; with queuePosition, a second call lists the pending jobs of the partitions our pending jobs wait in (--states=PENDING --partition=…).',
    cancel: 'hpc-wrap appends the job id (and --clusters for a multi-cluster id).',
  },
  environment: 'SLURM_CONF',
  settings: {
    accounting: argv('Accounting command')
      .default(['sacct'])
      .describe('Accounting command (argv) for `hpc-wrap accounting`; hpc-wrap appends --parsable2 --noheader --allocations, --format and the job list. Needs slurmdbd.'),
    control: argv('Control command').default(['scontrol']).describe('scontrol (argv); a launch job sets its own comment with `update JobId=<id> Comment=<text>` (docs/launch.md).'),
    partitions: argv('Partition listing command')
      .default(['sinfo'])
      .describe('Partition listing command (argv); hpc-wrap appends --noheader --all --format. Used to mark profiles whose partition does not exist.'),
  },
  timeoutSeconds: 30,
  detect: ['sbatch', 'squeue'],
  recognise: (argv) => (['sbatch', 'squeue', 'scancel', 'srun', 'salloc'].includes(program(argv)) ? 'certain' : 'no'),
  importSubmit: {
    own: { '--output': 1, '--error': 1, '--job-name': 1, '--comment': 1, '-o': 1, '-e': 1, '-J': 1 },
    required: ['--parsable'],
  },
  jobIdVariable: 'SLURM_JOB_ID',
  gpuVariables: ['SLURM_JOB_GPUS', 'SLURM_STEP_GPUS', 'SLURM_GPUS_ON_NODE'],
  states: SLURM_STATE_TABLE,

  resourceArgs: (r) => slurmResourceArgs(r),
  submitArgs(job) {
    // The command line wins over a ready script's #SBATCH lines, so the marker always holds.
    const args = [`--job-name=${job.name}`, `--output=${outputPattern(job.outputPath)}`, `--comment=${job.marker}`];
    if (job.afterJob) args.push(`--dependency=afterany:${job.afterJob.split(';')[0]}`);
    if (job.resources) {
      if (job.chdir) args.push(`--chdir=${job.chdir}`);
      args.push(...slurmResourceArgs(job.resources));
    } else {
      // A ready script (batchspawner's) says `#SBATCH --export=<its keepvars>`, which would
      // drop HPC_WRAP_RUN_DIR: the command line wins over #SBATCH lines. The hub's variables
      // are not in this environment anyway; they reach the job through the spool.
      args.push('--export=ALL');
    }
    args.push(job.scriptPath);
    return args;
  },
  submitIdHint: 'is --parsable in scheduler.submit?',
  /** `123` or `123;cluster` on the last non-empty line (sbatch may print warnings first). */
  parseSubmit(stdout) {
    const line = stdout.trim().split('\n').pop()?.trim() ?? '';
    return /^\d+(_\d+)?(;[A-Za-z0-9_.-]+)?$/.test(line) ? line : null;
  },

  /**
   * One squeue call for all ids. Only a mix of ids with and without a cluster part (which
   * a site does not produce) needs a second call, because `--clusters` hides the local cluster.
   */
  queryCalls(ids, s) {
    const groups = [ids.filter((id) => !id.includes(';')), ids.filter((id) => id.includes(';'))].filter((g) => g.length > 0);
    return groups.map((group) => {
      const clusters = [...new Set(group.map((id) => id.split(';')[1]).filter((c): c is string => Boolean(c)))];
      const args = ['--noheader', '--states=all', `--format=${SQUEUE_FORMAT}`];
      if (clusters.length) args.push(`--clusters=${clusters.join(',')}`);
      // Only ours; positions come from positionCalls, made only when one of ours is pending.
      args.push(`--jobs=${[...new Set(group.map((id) => id.split(';')[0]))].join(',')}`);
      return args;
    });
  },
  /**
   * Positions: the pending jobs of the partitions our pending jobs wait in (queue key
   * `cluster\0partition`), one call per cluster, not the whole queue.
   */
  positionCalls(queueKeys) {
    const byCluster = new Map<string, Set<string>>();
    for (const key of queueKeys) {
      const [cluster = '', partition = ''] = key.split('\u0000');
      if (!partition) continue;
      const set = byCluster.get(cluster) ?? new Set<string>();
      for (const p of partition.split(',')) if (p) set.add(p);
      byCluster.set(cluster, set);
    }
    return [...byCluster].map(([cluster, parts]) => [
      '--noheader', '--states=PENDING', `--format=${SQUEUE_FORMAT}`, `--partition=${[...parts].sort().join(',')}`,
      ...(cluster ? [`--clusters=${cluster}`] : []),
    ]);
  },
  parseListing: (stdout) => parseSqueue(stdout),
  /** squeue -j with a single id the controller has forgotten exits 1 with this text. */
  forgotten: (r) => /Invalid job id specified/i.test(r.stderr),
  arrayTask: slurmArrayTask,

  marked: {
    /** Live jobs with their comment (last: a foreign comment may contain the separator). */
    args: () => ['--noheader', '--states=PENDING,CONFIGURING,RUNNING,COMPLETING,SUSPENDED,REQUEUED,RESIZING', '--format=%i|%u|%T|%k'],
    parse(stdout, prefix) {
      const jobs: MarkedJob[] = [];
      for (const line of stdout.split('\n')) {
        const [id, user, state, ...rest] = line.trim().split('|');
        const comment = rest.join('|');
        if (!id || !comment.startsWith(prefix)) continue;
        jobs.push({ jobId: id, marker: comment, state: mapSlurmState(state ?? ''), user: user || null });
      }
      return jobs;
    },
  },

  owned: {
    args: ownedJobsArgs,
    parse: parseOwnedJobs,
  },
  setComment: {
    program: 'scontrol',
    command: (s) => s.control,
    args(id, comment) {
      const [job, cluster] = id.split(';');
      return [...(cluster ? [`--clusters=${cluster}`] : []), 'update', `JobId=${job}`, `Comment=${comment}`];
    },
  },

  partitions: {
    program: 'sinfo',
    command: (s) => s.partitions,
    args: SINFO_ARGS,
    parse: parseSinfoPartitions,
  },

  accounting: {
    command: (s) => s.accounting,
    calls: sacctCalls,
    parse: parseSacct,
    notAvailable: SACCT_NOT_AVAILABLE,
  },

  cancelArgs(id) {
    const [job, cluster] = id.split(';');
    return cluster ? [`--clusters=${cluster}`, job!] : [job!];
  },
  alreadyOver: /Invalid job id specified|already completing or completed|Job has already finished/i,
  unreachable: /Unable to contact slurm controller|Socket timed out on send\/recv|backup controller in standby mode|Transport endpoint is not connected/i,
});
