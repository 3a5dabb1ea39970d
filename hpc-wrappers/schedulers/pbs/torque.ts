// Torque (PBS/TORQUE, with Maui/Moab or pbs_sched) as data: qsub prints `123.server`;
// `qstat -f -x` lists every job as XML in ONE call; qdel cancels. Resources become a
// `nodes=1:ppn=N` request. Recorded-from-the-docs outputs: test/unit/hpc-wrappers/fixtures/pbs/.
import { slurmOnlyResource } from '../shared/slurm-only-resources.js';
import { z } from 'zod';
import type { Resources } from '../../../config/schema.js';
import { WrapError } from '../../errors.js';
import { defineDialect } from '../dialect.js';
import { hhmmss, walltimeSeconds } from '../shared/walltime.js';
import { readPbsJobs } from './job-attributes.js';
import { forgottenPbsJob, parsePbsSubmit, PBS_IMPORT_SUBMIT, PBS_ALREADY_OVER, PBS_UNREACHABLE, pbsMarkedJobs, pbsSubmitArgs, recognisePbs } from './pbs-common.js';
import { pbsArrayTask, pbsListing, PBS_STATES } from './pbs-listing.js';

const settings = {
  queryFormat: z
    .enum(['xml', 'text'])
    .default('xml')
    .describe("How qstat -f prints: xml (`-x`, Torque 2.4 and later) or text (qstat wrappers such as Slurm's slurm-wlm-torque)."),
};

function cannot(what: string, hint: string): never {
  throw new WrapError('invalid', `Torque cannot express ${what}: ${hint}`);
}

export function torqueResourceArgs(r: Resources): string[] {
  const slurmOnly = slurmOnlyResource(r);
  if (slurmOnly) cannot(slurmOnly, 'give the request in scheduler.submit (hpc-wrap.yaml), or use a Slurm cluster');
  const nodes = `nodes=1:ppn=${r.cpus}${r.gpus > 0 ? `:gpus=${r.gpus}` : ''}`;
  const args = ['-l', nodes, '-l', `walltime=${hhmmss(walltimeSeconds(r.walltime))}`];
  if (r.memoryMB !== null) args.push('-l', `mem=${r.memoryMB}mb`);
  if (r.partition) args.push('-q', r.partition);
  if (r.account) args.push('-A', r.account);
  if (r.reservation) cannot('resources.reservation', 'reservations belong to Moab (`-W x=ADVRES:…`); put that in scheduler.submit');
  if (r.qos) cannot('resources.qos', 'QOS belongs to Moab (`-W x=QOS:…`); put that in scheduler.submit');
  if (r.constraint) cannot('resources.constraint', 'node properties go into the nodes request; put them in scheduler.submit');
  if (r.extraArgs.length) cannot('resources.extraArgs', `they are Slurm-style options (${r.extraArgs.join(' ')}); put Torque options in scheduler.submit`);
  return args;
}

export const torqueDialect = defineDialect({
  kind: 'torque',
  title: 'Torque',
  summary: 'qsub / qstat -f -x / qdel; ONE status call for all jobs (XML), queue position from priority and queue time.',
  commands: { submit: ['qsub'], query: ['qstat'], cancel: ['qdel'] },
  appends: {
    submit: 'hpc-wrap appends the name, output, -V, nodes/walltime/mem and the script path.',
    query: 'hpc-wrap appends -f -x (or -f with queryFormat text) and, without queuePosition, the job ids.',
    cancel: 'hpc-wrap appends the job id.',
  },
  environment: 'PBS_DEFAULT, PBS_SERVER',
  settings,
  timeoutSeconds: 30,
  detect: ['momctl'],
  recognise: (argv) => recognisePbs(argv, (p, a) => p === 'momctl' || p === 'showq' || p === 'msub' || a.some((w) => /^nodes=\d/.test(w))),
  importSubmit: PBS_IMPORT_SUBMIT,
  jobIdVariable: 'PBS_JOBID',
  gpuVariables: ['PBS_GPUFILE'],
  states: PBS_STATES,

  resourceArgs: (r) => torqueResourceArgs(r),
  submitArgs: (job) => pbsSubmitArgs(job, job.resources ? torqueResourceArgs(job.resources) : []),
  parseSubmit: parsePbsSubmit,

  queryCalls: (ids, s) => [[...(s.queryFormat === 'xml' ? ['-f', '-x'] : ['-f']), ...(s.queuePosition ? [] : ids)]],
  parseListing: (stdout, s) => pbsListing(readPbsJobs(stdout, s.queryFormat)),
  forgotten: forgottenPbsJob,
  arrayTask: pbsArrayTask,

  marked: {
    args: (s) => (s.queryFormat === 'xml' ? ['-f', '-x'] : ['-f']),
    parse: (stdout, prefix, s) => pbsMarkedJobs(stdout, prefix, s.queryFormat),
  },

  cancelArgs: (id) => [id],
  alreadyOver: PBS_ALREADY_OVER,
  unreachable: PBS_UNREACHABLE,
});
