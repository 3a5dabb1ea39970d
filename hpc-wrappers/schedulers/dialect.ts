// A batch scheduler as data: what the one generic adapter (batch-adapter.ts) needs to know
// to drive it. Like batchspawner's data-only subclasses and ood_core's adapter files, a new
// scheduler is one folder under schedulers/ exporting one SchedulerDialect, plus one line in
// registry.ts; the config schema, the wizard, the legacy importer, `config docs` and the
// container step's GPU variables all read it from there.
import type { z } from 'zod';
import type { Resources } from '../../config/schema.js';
import type { AccountingRecord } from '../../contract/accounting.js';
import type { BatchSettings } from './batch-settings.js';
import type { ArrayTaskOf, ListedJob } from './shared/listing.js';
import type { JobState, JobSubmission, MarkedJob, OwnedJob, PartitionInfo } from './types.js';

/** How sure a legacy jh_config command is this scheduler's (`config import`). */
export type Recognition = 'certain' | 'possible' | 'no';

export interface SchedulerDialect<Extra extends z.ZodRawShape = z.ZodRawShape> {
  /** `scheduler.kind` in hpc-wrap.yaml. */
  readonly kind: string;
  /** Its name for people ("Grid Engine (SGE, OGS, UGE)"). */
  readonly title: string;
  /** One sentence: which commands, what it supports. Shown by `config docs` and the wizard. */
  readonly summary: string;

  /** Default argv prefixes of the three commands (the config may replace them). */
  readonly commands: { readonly submit: readonly string[]; readonly query: readonly string[]; readonly cancel: readonly string[] };
  /** What hpc-wrap appends to each command (the descriptions of scheduler.submit/query/cancel). */
  readonly appends: { readonly submit: string; readonly query: string; readonly cancel: string };
  /** Settings of this scheduler beyond the common ones (batch-settings.ts), each with a description. */
  readonly settings: Extra;
  /** Variables its commands commonly need, for the description of scheduler.env ("SLURM_CONF"). */
  readonly environment: string;
  /** Default of scheduler.timeoutSeconds. */
  readonly timeoutSeconds: number;

  /** Programs on PATH that suggest this scheduler (the wizard's default choice). */
  readonly detect: readonly string[];
  /** Whether a legacy jh_config submit/cancel/query command (argv) belongs to this scheduler. */
  recognise(argv: readonly string[]): Recognition;
  /**
   * For `config import`: the options of a legacy submit command that hpc-wrap sets itself
   * on every submit (dropped with their value words: option → how many), and the ones
   * scheduler.submit must keep (added when missing).
   */
  readonly importSubmit: { readonly own: Readonly<Record<string, number>>; readonly required: readonly string[] };
  /** The variable in which a running job finds its own id. */
  readonly jobIdVariable: string;
  /** Variables a job that was given GPUs finds in its environment (besides CUDA/ROCR_VISIBLE_DEVICES). */
  readonly gpuVariables: readonly string[];

  /** The scheduler's state codes → JobState: one table (parsers read it). */
  readonly states: Readonly<Record<string, JobState>>;

  /** Options for `job.resources` (validated values only). Throws WrapError('invalid') for what it cannot express. */
  resourceArgs(r: Resources, s: BatchSettings & z.infer<z.ZodObject<Extra>>): string[];
  /**
   * The arguments after scheduler.submit: name, output, the session marker (job.marker, kept
   * by the scheduler and listed back by `marked`), resources (or the ready script's needs),
   * the script last.
   */
  submitArgs(job: JobSubmission, s: BatchSettings & z.infer<z.ZodObject<Extra>>): string[];
  /** The job id in the submit command's stdout, or null. */
  parseSubmit(stdout: string): string | null;
  /** What to check when the submit output holds no job id ("is --parsable in scheduler.submit?"). */
  readonly submitIdHint?: string;

  /** One argv tail per status call (normally ONE for all ids). */
  queryCalls(ids: readonly string[], s: BatchSettings & z.infer<z.ZodObject<Extra>>): string[][];
  /**
   * Optional, with queuePosition: queryCalls are then asked for our ids only, and when one
   * of ours waits in the queue, these calls list the pending jobs of just its queues (the
   * queue keys of our waiting rows), from which positions are computed. Absent: queryCalls
   * list every job when queuePosition is on (one call).
   */
  positionCalls?(queueKeys: readonly string[], s: BatchSettings & z.infer<z.ZodObject<Extra>>): string[][];
  /** The listing printed by one status call, as neutral rows (queue positions are computed from them). */
  parseListing(stdout: string, s: BatchSettings & z.infer<z.ZodObject<Extra>>): ListedJob[];
  /**
   * A failed status call that only says some ids are unknown (not "unreachable"): what it
   * printed on stdout is still read.
   */
  forgotten?(r: { exitCode: number | null; stderr: string }): boolean;
  /** The array-task syntax of a job id (`123_4`, `123.4`), or null when the id is not a task. */
  arrayTask: ArrayTaskOf;
  /**
   * Where the listing has no reason for a pending job: ONE further call for our pending ids
   * only (made when there are some), mapping id → reason.
   */
  readonly pendingReasons?: {
    /** Whether the settings ask for it (default: yes). */
    enabled?(s: BatchSettings & z.infer<z.ZodObject<Extra>>): boolean;
    args(ids: readonly string[]): string[];
    parse(stdout: string): Map<string, string>;
  };

  /**
   * The live jobs carrying a marker, in ONE call (startjob adopts an interrupted submit's
   * job, the bridge's reaper cancels orphans): the arguments after scheduler.query, and the
   * jobs read from its output whose marker starts with the prefix.
   */
  readonly marked: {
    args(s: BatchSettings & z.infer<z.ZodObject<Extra>>): string[];
    parse(stdout: string, prefix: string, s: BatchSettings & z.infer<z.ZodObject<Extra>>): MarkedJob[];
  };

  /**
   * Optional: the scheduler's accounting for jobs that ended (`hpc-wrap accounting`): the
   * command from the settings, one call per group of ids (normally ONE), its parser (records
   * by the id as listed; `idOf` maps it back), and the words that mean "no accounting here".
   * Absent: the adapter says the scheduler's accounting is not read.
   */
  readonly accounting?: {
    command(s: BatchSettings & z.infer<z.ZodObject<Extra>>): string[];
    calls(ids: readonly string[]): { args: string[]; env?: Record<string, string>; idOf(listed: string): string }[];
    parse(stdout: string): Map<string, AccountingRecord>;
    readonly notAvailable: RegExp;
  };

  /**
   * Optional, for `hpc-wrap launch` with a gateway: ONE call listing the jobs of users (or
   * the given ids) with owner, batch host and comment, finished ones included (the
   * arguments after scheduler.query), and its parser.
   */
  readonly owned?: {
    args(filter: { users?: string[]; ids?: string[] }): string[];
    parse(stdout: string): OwnedJob[];
  };
  /** Optional, with `owned`: sets the comment (marker) of a job of the calling user. */
  readonly setComment?: {
    readonly program: string;
    command(s: BatchSettings & z.infer<z.ZodObject<Extra>>): string[];
    args(id: string, comment: string): string[];
  };

  /**
   * Optional: the queues/partitions jobs can be submitted to, in ONE call (the bridge marks
   * profiles whose partition does not exist or is down). Absent: `partitions` answers null.
   */
  readonly partitions?: {
    /** The program's usual name, for messages ("sinfo failed: …") even when the config wraps it. */
    readonly program: string;
    command(s: BatchSettings & z.infer<z.ZodObject<Extra>>): string[];
    readonly args: readonly string[];
    parse(stdout: string): PartitionInfo[];
  };

  /** The arguments after scheduler.cancel for one id. */
  cancelArgs(id: string): string[];
  /** A failed cancel whose stderr matches: the job is already over (not an error). */
  readonly alreadyOver: RegExp;
  /**
   * A failed submit/cancel whose stderr matches got no answer from the scheduler (an outage,
   * a restart): exit 5 `unreachable`, which the bridge retries, instead of 4 `scheduler`.
   */
  readonly unreachable: RegExp;
}

/** Identity helper that keeps the settings type of a dialect literal. */
export function defineDialect<Extra extends z.ZodRawShape>(d: SchedulerDialect<Extra>): SchedulerDialect<Extra> {
  return d;
}
