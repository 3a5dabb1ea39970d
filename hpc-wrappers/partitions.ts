// `hpc-wrap partitions` (docs/contracts.md §4a): the scheduler's partitions in one call, or
// null for a scheduler without partitions (fork). The bridge caches the answer.
import type { PartitionsReport } from '../contract/partitions.js';
import type { CommandContext } from './command-context.js';

export async function listPartitions(ctx: CommandContext): Promise<PartitionsReport> {
  const scheduler = ctx.scheduler();
  return { scheduler: scheduler.name, partitions: (await scheduler.partitions?.()) ?? null };
}
