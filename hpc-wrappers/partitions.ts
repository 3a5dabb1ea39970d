// `hpc-wrap partitions` (docs/contracts.md §4a): the scheduler's partitions in one call, or
// null for a scheduler without partitions (fork). The bridge caches the answer.
import type { CommandContext } from './command-context.js';
import type { PartitionInfo } from './schedulers/types.js';

export interface PartitionsReport {
  scheduler: string;
  /** null: this scheduler has no partitions, every profile can run as far as it knows. */
  partitions: PartitionInfo[] | null;
}

export async function listPartitions(ctx: CommandContext): Promise<PartitionsReport> {
  const scheduler = ctx.scheduler();
  if (!scheduler.partitions) return { scheduler: scheduler.name, partitions: null };
  return { scheduler: scheduler.name, partitions: await scheduler.partitions() };
}
