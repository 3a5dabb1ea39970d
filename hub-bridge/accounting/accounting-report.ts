// The bridge's reading of `hpc-wrap accounting` (docs/contracts.md §3a), validated: the
// cluster side is trusted to run commands, not to send well-formed data.
import { z } from 'zod';

const count = z.number().int().min(0).nullable();
const iso = z.string().max(40).nullable();
const text = z.string().max(4096).nullable();

export const accountingRecordSchema = z.object({
  state: z.string().min(1).max(64),
  exitCode: z.number().int().nullable(),
  signal: z.number().int().nullable(),
  elapsedSeconds: count,
  cpuSeconds: count,
  usedCpuSeconds: z.number().min(0).nullable(),
  cpus: count,
  gpus: count,
  memoryMB: count,
  account: text,
  partition: text,
  nodes: text,
  submittedAt: iso,
  startedAt: iso,
  endedAt: iso,
});
export type AccountingRecord = z.infer<typeof accountingRecordSchema>;

export const accountingReportSchema = z.object({
  scheduler: z.object({ name: z.string(), available: z.boolean(), reachable: z.boolean(), error: z.string().nullable() }),
  jobs: z.record(z.string(), accountingRecordSchema),
});
export type AccountingReport = z.infer<typeof accountingReportSchema>;
