// `fork` in the registry: no batch system, so no dialect; its own small adapter (fork.ts)
// behind the same interface, and a settings object with nothing but its kind.
import { z } from 'zod';
import type { SchedulerDefinition } from '../registry.js';
import { ForkAdapter } from './fork.js';

const schema = z
  .object({
    kind: z.literal('fork').describe('Run the job script as a detached local process: the embedded default and a laptop mode, no batch system.'),
  })
  .strict();

export const forkScheduler: SchedulerDefinition = {
  kind: 'fork',
  title: 'fork (no batch system)',
  summary: 'Each job runs at once as a detached process on this machine; resources, queues and limits are ignored.',
  batchSystem: false,
  schema,
  commands: null,
  detect: [],
  // A jh_config always names a workload manager; never guess "no batch system" from one.
  recognise: () => 'no',
  importSubmit: null,
  create: (_settings, host) => new ForkAdapter(host.forkDir, host.selfCommand),
};
