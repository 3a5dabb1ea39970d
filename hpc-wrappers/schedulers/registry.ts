// Every scheduler hpc-wrap knows, in one list. Adding one is a folder under schedulers/
// (its SchedulerDialect) plus ONE line here; the config schema (`scheduler:` in
// hpc-wrap.yaml), `config docs`, the wizard's choices and defaults, the legacy importer
// and `createScheduler` all read this list.
import { z } from 'zod';
import { BatchAdapter } from './batch-adapter.js';
import { batchSettingsSchema } from './batch-settings.js';
import type { Recognition, SchedulerDialect } from './dialect.js';
import { forkScheduler } from './fork/definition.js';
import { gridEngineDialect } from './gridengine/dialect.js';
import { pbsProDialect } from './pbs/pbspro.js';
import { torqueDialect } from './pbs/torque.js';
import { slurmDialect } from './slurm/dialect.js';
import type { SchedulerAdapter } from './types.js';

/** What an adapter may need from the place it runs (the fork adapter: where its jobs live, how to run itself). */
export interface SchedulerHost {
  forkDir: string;
  selfCommand: string[];
}

export interface SchedulerDefinition {
  readonly kind: string;
  readonly title: string;
  readonly summary: string;
  readonly batchSystem: boolean;
  /** The zod object of `scheduler:` for this kind (its `kind` is a literal). */
  readonly schema: z.ZodObject;
  /** Default commands, for the wizard (null: none to ask for). */
  readonly commands: { submit: readonly string[]; query: readonly string[]; cancel: readonly string[] } | null;
  readonly detect: readonly string[];
  recognise(argv: readonly string[]): Recognition;
  /** See SchedulerDialect.importSubmit; null: no commands to import. */
  readonly importSubmit: SchedulerDialect['importSubmit'] | null;
  create(settings: unknown, host: SchedulerHost): SchedulerAdapter;
}

/** A batch scheduler: its dialect, driven by the one generic adapter. */
export function batchScheduler<Extra extends z.ZodRawShape>(dialect: SchedulerDialect<Extra>): SchedulerDefinition {
  const schema = batchSettingsSchema(dialect);
  return {
    kind: dialect.kind,
    title: dialect.title,
    summary: dialect.summary,
    batchSystem: true,
    schema,
    commands: dialect.commands,
    detect: dialect.detect,
    recognise: dialect.recognise,
    importSubmit: dialect.importSubmit,
    create: (settings) => new BatchAdapter(dialect, schema.parse(settings) as never),
  };
}

export const SCHEDULERS: readonly SchedulerDefinition[] = [
  batchScheduler(slurmDialect),
  batchScheduler(gridEngineDialect),
  batchScheduler(pbsProDialect),
  batchScheduler(torqueDialect),
  forkScheduler,
];

/** The embedded default (no batch system needed). */
export const DEFAULT_SCHEDULER_KIND = 'fork';

export const schedulerKinds = (): string[] => SCHEDULERS.map((s) => s.kind);

export function schedulerDefinition(kind: string): SchedulerDefinition {
  const d = SCHEDULERS.find((s) => s.kind === kind);
  if (!d) throw new Error(`unknown scheduler kind "${kind}" (known: ${schedulerKinds().join(', ')})`);
  return d;
}

/** The scheduler settings as parsed by schedulerSchema(): its kind, then what that kind's schema says. */
export type SchedulerSettings = { kind: string } & Record<string, unknown>;

/**
 * `scheduler:` of hpc-wrap.yaml: one of the registered kinds, each with its own settings.
 * (Typed as SchedulerSettings: the adapter of the kind parses the rest.)
 */
export function schedulerSchema(): z.ZodType<SchedulerSettings> {
  const [first, ...rest] = SCHEDULERS.map((s) => s.schema);
  const union = z
    .discriminatedUnion('kind', [first!, ...rest])
    .prefault({ kind: DEFAULT_SCHEDULER_KIND })
    .describe(`The batch system and its commands: ${SCHEDULERS.map((s) => `${s.kind} (${s.title})`).join(', ')}.`);
  return union as unknown as z.ZodType<SchedulerSettings>;
}

export function createScheduler(settings: SchedulerSettings, host: SchedulerHost): SchedulerAdapter {
  return schedulerDefinition(settings.kind).create(settings, host);
}
