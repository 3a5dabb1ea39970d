// Grid Engine (Sun/Son of Grid Engine, Open Grid Scheduler, Univa/Altair GE) as data:
// `qsub -terse` prints the bare id, `qstat -xml -u '*'` lists every job in ONE call,
// `qdel` cancels. Cores come from a parallel environment, memory and GPUs from complex
// attributes whose names differ per site (settings below).
import { cannotExpress, refuseUnexpressible } from '../shared/unexpressible.js';
import { z } from 'zod';
import type { Resources } from '../../../config/schema.js';
import { WrapError } from '../../errors.js';
import { defineDialect } from '../dialect.js';
import { hhmmss, walltimeSeconds } from '../shared/walltime.js';
import { markerAssignment } from '../shared/marker.js';
import { GE_STATE_LETTERS, parseMarkedJobs, parseQstatJobMessages, parseQstatXml } from './qstat-xml.js';

const resourceName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, 'a complex attribute name');

const settings = {
  parallelEnvironment: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .nullable()
    .default('smp')
    .describe('Parallel environment for resources.cpus > 1 (`-pe <name> <cpus>`, one host: allocation_rule $pe_slots); null = refuse multi-core requests.'),
  memoryResource: resourceName
    .nullable()
    .default('mem_free')
    .describe(
      'Complex attribute that requests memory PER SLOT (`-l <name>=<memoryMB/cpus>M`): mem_free (placement), a consumable your site defines, m_mem_free (UGE) …; null = refuse resources.memoryMB. Avoid h_vmem: it caps VIRTUAL memory, which Node (start-env) and Python reserve far beyond what they use — with h_vmem=512M start-env died at once here ("WebAssembly.instantiate(): Out of memory").',
    ),
  gpuResource: resourceName.nullable().default('gpu').describe('Consumable that requests GPUs (`-l <name>=<gpus>`); null = refuse resources.gpus.'),
  pendingReasons: z
    .boolean()
    .default(true)
    .describe("Ask `qstat -xml -j <our pending ids>` for the scheduler's reason (needs schedd_job_info true): one more call, only while one of our jobs waits."),
};

type Settings = { parallelEnvironment: string | null; memoryResource: string | null; gpuResource: string | null };

const program = (argv: readonly string[]) => (argv[0] ?? '').split('/').pop() ?? '';

const TITLE = 'Grid Engine';
function cannot(what: string, hint: string): never {
  return cannotExpress(TITLE, what, hint);
}

export function gridEngineResourceArgs(r: Resources, s: Settings): string[] {
  refuseUnexpressible(TITLE, r, {
    qos: 'it has no QOS; remove it from the profile',
    constraint: 'it has no node features of that form; request a complex attribute in scheduler.submit or use a queue (resources.partition)',
    extraArgs: 'put Grid Engine options in scheduler.submit',
  });
  const args: string[] = [];
  if (r.partition) args.push('-q', r.partition);
  if (r.cpus > 1) {
    if (!s.parallelEnvironment) cannot(`resources.cpus ${r.cpus}`, 'scheduler.parallelEnvironment is null in hpc-wrap.yaml; name the PE for multi-core jobs');
    args.push('-pe', s.parallelEnvironment, String(r.cpus));
  }
  args.push('-l', `h_rt=${hhmmss(walltimeSeconds(r.walltime))}`);
  if (r.memoryMB !== null) {
    if (!s.memoryResource) cannot('resources.memoryMB', 'scheduler.memoryResource is null in hpc-wrap.yaml; name the memory attribute (h_vmem, mem_free …) or drop memoryMB from the profile');
    args.push('-l', `${s.memoryResource}=${Math.ceil(r.memoryMB / r.cpus)}M`);
  }
  if (r.gpus > 0) {
    if (!s.gpuResource) cannot(`resources.gpus ${r.gpus}`, 'scheduler.gpuResource is null in hpc-wrap.yaml; name the GPU consumable');
    args.push('-l', `${s.gpuResource}=${r.gpus}`);
  }
  if (r.account) args.push('-A', r.account);
  if (r.reservation) {
    if (!/^\d+$/.test(r.reservation)) cannot(`reservation "${r.reservation}"`, 'an advance reservation is a number (`-ar <id>`)');
    args.push('-ar', r.reservation);
  }
  return args;
}

/** qsub reads `-o [host:]path` and expands `$VAR` pseudo variables in it. */
function outputPath(p: string): string {
  if (/[:$]/.test(p)) throw new WrapError('invalid', `Grid Engine would misread the output path ${p} (":" starts a host name, "$" a variable): choose a workDir without them`);
  return p;
}

export const gridEngineDialect = defineDialect({
  kind: 'gridengine',
  title: 'Grid Engine (SGE, SoGE, OGS, Univa/Altair GE)',
  summary: "qsub -terse / qstat -xml -u '*' / qdel; ONE status call for all jobs, queue position from the scheduler's order, reasons from qstat -j.",
  commands: { submit: ['qsub'], query: ['qstat'], cancel: ['qdel'] },
  appends: {
    submit: 'hpc-wrap appends -terse, the name, output, -V, the resources and the script path.',
    query: "hpc-wrap appends -xml -u '*' (every job, ONE call) and, for reasons, -xml -j <ids>.",
    cancel: 'hpc-wrap appends the job id.',
  },
  environment: 'SGE_ROOT, SGE_CELL, SGE_QMASTER_PORT',
  settings,
  timeoutSeconds: 30,
  detect: ['qconf', 'qhost'],
  recognise(argv) {
    const p = program(argv);
    if (['qconf', 'qhost', 'qacct', 'qmod', 'qrsh', 'qlogin'].includes(p) || (p === 'qsub' && argv.includes('-terse'))) return 'certain';
    if (p === 'qstat' && argv.includes('-xml')) return 'certain';
    return ['qsub', 'qstat', 'qdel'].includes(p) ? 'possible' : 'no';
  },
  importSubmit: { own: { '-terse': 0, '-N': 1, '-o': 1, '-e': 1, '-j': 1, '-V': 0, '-ac': 1, '-cwd': 0, '-wd': 1 }, required: [] },
  jobIdVariable: 'JOB_ID',
  gpuVariables: ['SGE_HGR_gpu'],
  states: GE_STATE_LETTERS,

  resourceArgs: (r, s) => gridEngineResourceArgs(r, s),
  submitArgs(job, s) {
    // -V: the submit environment (HPC_WRAP_RUN_DIR …) goes with the job, as Slurm does by default.
    // -ac: the marker lives in the job's context (not its environment); the command line wins over #$ lines.
    const args = ['-terse', '-N', job.name, '-o', outputPath(job.outputPath), '-j', 'y', '-V', '-ac', markerAssignment(job.marker)];
    if (job.chdir) args.push('-wd', outputPath(job.chdir));
    if (job.resources) args.push(...gridEngineResourceArgs(job.resources, s));
    args.push(job.scriptPath);
    return args;
  },
  /** `123`, or `123.1-4:1` for an array, on the last line. */
  parseSubmit(stdout) {
    const line = stdout.trim().split('\n').pop()?.trim() ?? '';
    return /^\d+(\.\d+(-\d+(:\d+)?)?)?$/.test(line) ? line : null;
  },

  // Every job of every user: one call, and the scheduler's own order gives the positions.
  queryCalls: () => [['-xml', '-u', '*']],
  parseListing: (stdout) => parseQstatXml(stdout),
  arrayTask(id) {
    const m = /^(\d+)\.(\d+)$/.exec(id);
    return m ? { baseId: m[1]!, task: Number(m[2]) } : null;
  },
  pendingReasons: {
    enabled: (s) => s.pendingReasons,
    args: (ids) => ['-xml', '-j', ids.map((id) => id.split('.')[0]).join(',')],
    parse: parseQstatJobMessages,
  },

  marked: { args: () => ['-xml', '-j', '*'], parse: parseMarkedJobs },

  cancelArgs: (id) => [id],
  alreadyOver: /does not exist|has already been deleted|already been (deleted|finished)|is already in deletion/i,
  // commlib's words when sge_qmaster is down or restarting (recorded in the harness)
  unreachable: /unable to contact qmaster|unable to send message to qmaster|commlib error|can't find connection|got send error/i,
});
