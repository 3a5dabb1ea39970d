// The settings every batch scheduler has in hpc-wrap.yaml (`scheduler:`): its three
// commands, their environment, the timeout, queue positions. A dialect adds its own keys;
// batchSettingsSchema() builds the one zod object of its `kind`, from which the config
// schema, `config docs` and the wizard take keys, defaults and descriptions.
import { z } from 'zod';
import { argv, envRecord } from '../../config/schema-argv.js';
import type { SchedulerDialect } from './dialect.js';

export interface BatchSettings {
  kind: string;
  submit: string[];
  query: string[];
  cancel: string[];
  env: Record<string, string>;
  queuePosition: boolean;
  timeoutSeconds: number;
}

export function batchSettingsSchema<Extra extends z.ZodRawShape>(d: SchedulerDialect<Extra>) {
  return z
    .object({
      kind: z.literal(d.kind).describe(`${d.title}: ${d.summary}`),
      submit: argv('Submit command').default([...d.commands.submit]).describe(`Submit command (argv); ${d.appends.submit}`),
      query: argv('Query command').default([...d.commands.query]).describe(`Query command (argv); ${d.appends.query}`),
      cancel: argv('Cancel command').default([...d.commands.cancel]).describe(`Cancel command (argv); ${d.appends.cancel}`),
      env: envRecord().default({}).describe(`Extra environment for the scheduler commands (e.g. ${d.environment}).`),
      queuePosition: z
        .boolean()
        .default(true)
        .describe(
          'Compute queue positions. Slurm: only when one of ours is pending, a second call lists the pending jobs of just those partitions; Grid Engine, PBS Pro and Torque: the status call lists every job (still ONE call). false = only ours, no positions.',
        ),
      timeoutSeconds: z
        .number()
        .min(1)
        .max(600)
        .default(d.timeoutSeconds)
        .describe('A scheduler command that runs longer is killed; a status call that times out reports the scheduler unreachable.'),
      ...d.settings,
    })
    .strict();
}

