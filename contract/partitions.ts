// `hpc-wrap partitions` (docs/contracts.md §4a): the scheduler's partitions in one call, or
// null for a scheduler without partitions (fork). The bridge caches it to mark profiles
// whose partition does not exist or is down.
import { z } from 'zod';

export const partitionInfoSchema = z.object({
  name: z.string(),
  /** Accepts and starts jobs (Slurm availability `up`). */
  available: z.boolean(),
  /** The scheduler's own word for its state (Slurm: up, down, drain, inact). */
  state: z.string(),
  default: z.boolean(),
});
export type PartitionInfo = z.infer<typeof partitionInfoSchema>;

export const partitionsReportSchema = z.object({
  scheduler: z.string(),
  /** null: this scheduler has no partitions; every profile can run as far as it knows. */
  partitions: z.array(partitionInfoSchema).nullable(),
});
export type PartitionsReport = z.infer<typeof partitionsReportSchema>;
