// `hpc-bridge usage` and `hpc-bridge prune`: read (or trim) the bridge's database directly,
// so they work while the bridge runs (SQLite WAL) and when it does not.
import { existsSync } from 'node:fs';
import { parseAge } from '../../config/duration.js';
import type { HubBridgeConfig } from '../../config/schema.js';
import { prune } from '../store/retention.js';
import { SessionStore } from '../store/session-store.js';
import { AccountingStore } from './accounting-store.js';
import { usageCsv, usageQuery, usageReport, usageTable } from './usage.js';

export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
}

function openStore(config: HubBridgeConfig, io: CommandIo): SessionStore | null {
  if (!existsSync(config.stateDb)) {
    io.err(`no bridge database at ${config.stateDb} (stateDb in hub-bridge.yaml): has the bridge run yet, and is --config the one it uses?\n`);
    return null;
  }
  return new SessionStore(config.stateDb);
}

export function usageCommand(config: HubBridgeConfig, args: { from?: string; to?: string; by?: string; csv: boolean; json: boolean }, io: CommandIo): number {
  let q;
  try {
    q = usageQuery(args);
  } catch (err) {
    io.err(`hpc-bridge usage: --${(err as Error).message}\n`);
    return 2;
  }
  const store = openStore(config, io);
  if (!store) return 1;
  try {
    const report = usageReport(q, new AccountingStore(store.database).rows(q.from, q.to));
    io.out(args.json ? `${JSON.stringify(report, null, 2)}\n` : args.csv ? usageCsv(report) : usageTable(report));
    if (args.csv && report.source.note) io.err(`note: ${report.source.note}\n`);
    return 0;
  } finally {
    store.close();
  }
}

export function pruneCommand(config: HubBridgeConfig, args: { olderThan: string; dryRun: boolean; json: boolean }, io: CommandIo): number {
  let seconds: number;
  try {
    seconds = parseAge(args.olderThan);
  } catch (err) {
    io.err(`hpc-bridge prune: ${(err as Error).message}\n`);
    return 2;
  }
  const store = openStore(config, io);
  if (!store) return 1;
  try {
    new AccountingStore(store.database); // an older database gets the accounting columns first
    const r = prune(store.database, seconds, { dryRun: args.dryRun });
    const { sessions, events, jobs, idempotencyKeys } = r.removed;
    io.out(
      args.json
        ? `${JSON.stringify(r)}\n`
        : `${r.dryRun ? 'would remove' : 'removed'} (ended before ${r.cutoff}): ${sessions} session(s), ${events} event(s), ${jobs} job(s), ${idempotencyKeys} idempotency key(s)\n`,
    );
    return 0;
  } finally {
    store.close();
  }
}
