// PBS Pro / OpenPBS as data: qsub prints `123.server`; `qstat -f -F json` lists every job
// in ONE call with the scheduler's comment ("Not Running: Insufficient amount of resource
// …") and, when it computes one, estimated.start_time; qdel cancels. Resources become one
// select chunk. Recorded-from-the-docs outputs: test/unit/hpc-wrappers/fixtures/pbs/.
import { cannotExpress, refuseUnexpressible } from '../shared/unexpressible.js';
import { z } from 'zod';
import type { Resources } from '../../../config/schema.js';
import { defineDialect } from '../dialect.js';
import { hhmmss, walltimeSeconds } from '../shared/walltime.js';
import { readPbsJobs } from './job-attributes.js';
import { forgottenPbsJob, parsePbsSubmit, PBS_IMPORT_SUBMIT, PBS_ALREADY_OVER, PBS_UNREACHABLE, pbsMarkedJobs, pbsSubmitArgs, recognisePbs } from './pbs-common.js';
import { pbsArrayTask, pbsListing, PBS_STATES } from './pbs-listing.js';

const settings = {
  queryFormat: z
    .enum(['json', 'text'])
    .default('json')
    .describe('How qstat -f prints: json (`-F json`, PBS Pro/OpenPBS 13 and later) or text (older versions and qstat wrappers).'),
  gpuResource: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/)
    .nullable()
    .default('ngpus')
    .describe('Chunk resource that requests GPUs (`select=1:…:<name>=<gpus>`); null = refuse resources.gpus.'),
};

const TITLE = 'PBS Pro';
function cannot(what: string, hint: string): never {
  return cannotExpress(TITLE, what, hint);
}

export function pbsProResourceArgs(r: Resources, s: { gpuResource: string | null }): string[] {
  refuseUnexpressible(TITLE, r, {
    qos: 'it has no QOS; remove it from the profile',
    constraint: 'node features are chunk resources there; put them in scheduler.submit',
    extraArgs: 'put PBS options in scheduler.submit',
  });
  const chunk = [`select=1`, `ncpus=${r.cpus}`];
  if (r.memoryMB !== null) chunk.push(`mem=${r.memoryMB}mb`);
  if (r.gpus > 0) {
    if (!s.gpuResource) cannot(`resources.gpus ${r.gpus}`, 'scheduler.gpuResource is null in hpc-wrap.yaml');
    chunk.push(`${s.gpuResource}=${r.gpus}`);
  }
  const args = ['-l', chunk.join(':'), '-l', `walltime=${hhmmss(walltimeSeconds(r.walltime))}`];
  if (r.partition && r.reservation) cannot('a partition and a reservation together', 'a reservation is a queue of its own (`-q R123`); give only resources.reservation');
  if (r.partition || r.reservation) args.push('-q', (r.reservation ?? r.partition)!);
  if (r.account) args.push('-A', r.account);
  return args;
}

export const pbsProDialect = defineDialect({
  kind: 'pbspro',
  title: 'PBS Pro / OpenPBS',
  summary: 'qsub / qstat -f -F json / qdel; ONE status call for all jobs, the scheduler comment as reason, estimated start when PBS computes one.',
  commands: { submit: ['qsub'], query: ['qstat'], cancel: ['qdel'] },
  appends: {
    submit: 'hpc-wrap appends the name, output, -V, a select chunk and walltime, and the script path.',
    query: 'hpc-wrap appends -f -F json (or -f with queryFormat text) and, without queuePosition, the job ids.',
    cancel: 'hpc-wrap appends the job id.',
  },
  environment: 'PBS_SERVER, PBS_CONF_FILE',
  settings,
  timeoutSeconds: 30,
  detect: ['pbs_rstat'],
  recognise: (argv) => recognisePbs(argv, (p, a) => p === 'pbs_rstat' || (p === 'qstat' && a.includes('-F')) || a.some((w) => w.startsWith('select='))),
  importSubmit: PBS_IMPORT_SUBMIT,
  jobIdVariable: 'PBS_JOBID',
  gpuVariables: ['PBS_GPUFILE'],
  states: PBS_STATES,

  resourceArgs: (r, s) => pbsProResourceArgs(r, s),
  submitArgs: (job, s) => pbsSubmitArgs(job, job.resources ? pbsProResourceArgs(job.resources, s) : []),
  parseSubmit: parsePbsSubmit,

  queryCalls: (ids, s) => [[...(s.queryFormat === 'json' ? ['-f', '-F', 'json'] : ['-f']), ...(s.queuePosition ? [] : ids)]],
  parseListing: (stdout, s) => pbsListing(readPbsJobs(stdout, s.queryFormat)),
  forgotten: forgottenPbsJob,
  arrayTask: pbsArrayTask,

  marked: {
    args: (s) => (s.queryFormat === 'json' ? ['-f', '-F', 'json'] : ['-f']),
    parse: (stdout, prefix, s) => pbsMarkedJobs(stdout, prefix, s.queryFormat),
  },

  cancelArgs: (id) => [id],
  alreadyOver: PBS_ALREADY_OVER,
  unreachable: PBS_UNREACHABLE,
});
