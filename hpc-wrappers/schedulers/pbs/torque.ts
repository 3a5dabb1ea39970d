// Torque (PBS/TORQUE, with Maui/Moab or pbs_sched) as data: qsub prints `123.server`;
// `qstat -f -x` lists every job as XML in ONE call; qdel cancels. Resources become a
// `nodes=1:ppn=N` request. Recorded-from-the-docs outputs: test/unit/hpc-wrappers/fixtures/pbs/.
import { refuseUnexpressible } from '../shared/unexpressible.js';
import { z } from 'zod';
import type { Resources } from '../../../config/schema.js';
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

export function torqueResourceArgs(r: Resources): string[] {
  refuseUnexpressible('Torque', r, {
    reservation: 'reservations belong to Moab (`-W x=ADVRES:…`); put that in scheduler.submit',
    qos: 'QOS belongs to Moab (`-W x=QOS:…`); put that in scheduler.submit',
    constraint: 'node properties go into the nodes request; put them in scheduler.submit',
    extraArgs: 'put Torque options in scheduler.submit',
  });
  const nodes = `nodes=1:ppn=${r.cpus}${r.gpus > 0 ? `:gpus=${r.gpus}` : ''}`;
  const args = ['-l', nodes, '-l', `walltime=${hhmmss(walltimeSeconds(r.walltime))}`];
  if (r.memoryMB !== null) args.push('-l', `mem=${r.memoryMB}mb`);
  if (r.partition) args.push('-q', r.partition);
  if (r.account) args.push('-A', r.account);
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
