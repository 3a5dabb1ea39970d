// `hpc-wrap accounting ID...` (docs/contracts.md §3a): what the scheduler's accounting
// recorded for jobs that ended — ONE call for all ids (Slurm: sacct). A scheduler without
// accounting answers `available: false` with the reason; that is not an error.
import type { CommandContext } from './command-context.js';
import { validateJobIds } from './jobstate.js';
import type { AccountingRecord, AccountingReport } from '../contract/accounting.js';
import { NO_ACCOUNTING } from './schedulers/accounting-types.js';

export async function accounting(ctx: CommandContext, rawIds: readonly string[]): Promise<AccountingReport> {
  const ids = validateJobIds(rawIds);
  const scheduler = ctx.scheduler();
  const result = !scheduler.accounting
    ? NO_ACCOUNTING(`the ${scheduler.name} scheduler keeps no accounting; usage reports what the bridge saw`)
    : ids.length
      ? await scheduler.accounting(ids)
      : { available: true, reachable: true, error: null, jobs: new Map<string, AccountingRecord>() };
  const jobs: Record<string, AccountingRecord> = {};
  for (const id of ids) {
    const rec = result.jobs.get(id);
    if (rec) jobs[id] = rec;
  }
  if (!result.reachable) ctx.log.warn('accounting.unreachable', { scheduler: scheduler.name, error: result.error, jobs: ids.length });
  return { scheduler: { name: scheduler.name, available: result.available, reachable: result.reachable, error: result.error }, jobs };
}
