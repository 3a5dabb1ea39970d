// What PBS Pro/OpenPBS and Torque share on the command line: qsub's name/output/env
// options, the printed job id, qdel's words for a job that is already over, and which
// legacy commands look like theirs.
import { WrapError } from '../../errors.js';
import type { Recognition } from '../dialect.js';
import { markerAssignment, markerInList, MARKER_VARIABLE } from '../shared/marker.js';
import type { JobSubmission, MarkedJob } from '../types.js';
import { readPbsJobs, type PbsFormat } from './job-attributes.js';
import { PBS_STATES } from './pbs-listing.js';

/** qsub's `-o [host:]path`: a colon would be read as a host name. */
function outputPath(p: string): string {
  if (p.includes(':')) throw new WrapError('invalid', `PBS would read the ":" in the output path ${p} as a host name: choose a workDir without ":"`);
  return p;
}

/**
 * `-N name -o path -j oe -V` + resources + the script. No working-directory option (PBS Pro
 * has none, Torque's -d is not in every qsub): start-env sets the server's own cwd.
 */
export function pbsSubmitArgs(job: JobSubmission, resources: string[]): string[] {
  // -v: the marker joins the job's Variable_List, which qstat -f lists back.
  return ['-N', job.name, '-o', outputPath(job.outputPath), '-j', 'oe', '-V', '-v', markerAssignment(job.marker), ...(job.resources ? resources : []), job.scriptPath];
}

/** The live jobs whose Variable_List holds a marker with the prefix (qstat -f, every job, ONE call). */
export function pbsMarkedJobs(stdout: string, prefix: string, format: PbsFormat): MarkedJob[] {
  const out: MarkedJob[] = [];
  for (const j of readPbsJobs(stdout, format)) {
    const marker = j.attrs[`Variable_List.${MARKER_VARIABLE}`] ?? markerInList(j.attrs.Variable_List);
    if (!marker?.startsWith(prefix)) continue;
    const state = PBS_STATES[(j.attrs.job_state ?? '').charAt(0)] ?? 'unknown';
    if (state === 'done' || state === 'failed' || state === 'cancelled') continue;
    const user = j.attrs.euser?.replace(/\(.*$/, '') || j.attrs.Job_Owner?.split('@')[0] || null;
    out.push({ jobId: j.id, marker, state, user });
  }
  return out;
}

/** `123.server` (PBS, Torque) or `123` (Slurm's wrapper), on the last line. */
export function parsePbsSubmit(stdout: string): string | null {
  const line = stdout.trim().split('\n').pop()?.trim() ?? '';
  return /^\d+(\[\d*\])?(\.[A-Za-z0-9_.-]+)?$/.test(line) ? line : null;
}

/** Options hpc-wrap sets on every qsub (name, output, join, environment, marker); -d/-w: start-env sets the cwd. */
export const PBS_IMPORT_SUBMIT = { own: { '-N': 1, '-o': 1, '-e': 1, '-j': 1, '-V': 0, '-v': 1, '-d': 1, '-w': 1 }, required: [] };

/** 153 = PBSE_UNKJOBID (15001 & 0xff): qstat/qdel of a job the server no longer knows. */
export const UNKNOWN_JOB_EXIT = 153;

export const forgottenPbsJob = (r: { exitCode: number | null; stderr: string }) => r.exitCode === UNKNOWN_JOB_EXIT || /Unknown Job Id/i.test(r.stderr);

/** pbs_server down or unreachable (PBS Pro, Torque, OpenPBS client words). */
export const PBS_UNREACHABLE = /cannot connect to server|Connection refused|Communication failure|pbs_iff: .*(error|cannot)|could not connect|No route to host|timed out/i;

export const PBS_ALREADY_OVER = /Unknown Job Id|Job has finished|invalid state for job - COMPLETE|job has already finished|Request invalid for state of job/i;

const program = (argv: readonly string[]) => (argv[0] ?? '').split('/').pop() ?? '';

/** qsub/qstat/qdel are also Grid Engine's: only flavour-specific words make it certain. */
export function recognisePbs(argv: readonly string[], certain: (p: string, argv: readonly string[]) => boolean): Recognition {
  const p = program(argv);
  if (certain(p, argv)) return 'certain';
  return ['qsub', 'qstat', 'qdel'].includes(p) ? 'possible' : 'no';
}
