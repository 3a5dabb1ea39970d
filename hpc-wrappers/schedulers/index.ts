// Picks the scheduler adapter named by config.scheduler.kind.
import type { HpcWrapConfig } from '../../config/schema.js';
import { Layout } from '../layout.js';
import { selfCommand } from '../self-command.js';
import { ForkAdapter } from './fork.js';
import { SlurmAdapter } from './slurm.js';
import type { SchedulerAdapter } from './types.js';

export function createScheduler(cfg: HpcWrapConfig): SchedulerAdapter {
  switch (cfg.scheduler.kind) {
    case 'slurm':
      return new SlurmAdapter(cfg.scheduler);
    case 'fork':
      return new ForkAdapter(new Layout(cfg).forkDir, selfCommand());
  }
}

export type { SchedulerAdapter } from './types.js';
