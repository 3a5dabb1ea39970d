// `hpc-bridge prune --older-than AGE`: forgets what is over. Sessions that ended (stopped
// or failed) and were not updated for AGE go, with their events and idempotency keys;
// jobs that ended before the cutoff go too (a job of a forgotten session as well). Live
// sessions are never touched. Safe while the bridge runs (one transaction, WAL).
import type Database from 'better-sqlite3';

export interface PruneCounts {
  sessions: number;
  events: number;
  jobs: number;
  idempotencyKeys: number;
}

export interface PruneResult {
  cutoff: string;
  dryRun: boolean;
  removed: PruneCounts;
}

const OLD_SESSIONS = "SELECT id FROM sessions WHERE state IN ('stopped','failed') AND updated_at < @cutoff";
const OLD_JOBS = `(ended_at IS NOT NULL AND ended_at < @cutoff)
  OR (submitted_at < @cutoff AND session_id NOT IN (SELECT id FROM sessions WHERE state NOT IN ('stopped','failed') OR updated_at >= @cutoff))`;

export function prune(db: Database.Database, olderThanSeconds: number, opts: { dryRun?: boolean; now?: number } = {}): PruneResult {
  const cutoff = new Date((opts.now ?? Date.now()) - olderThanSeconds * 1000).toISOString();
  const dryRun = opts.dryRun ?? false;
  const count = (sql: string) => (db.prepare(sql).get({ cutoff }) as { n: number }).n;
  const removed = db.transaction((): PruneCounts => {
    const c: PruneCounts = {
      sessions: count(`SELECT COUNT(*) AS n FROM (${OLD_SESSIONS})`),
      events: count(`SELECT COUNT(*) AS n FROM events WHERE session_id IN (${OLD_SESSIONS})`),
      jobs: count(`SELECT COUNT(*) AS n FROM jobs WHERE ${OLD_JOBS}`),
      idempotencyKeys: count(`SELECT COUNT(*) AS n FROM idempotency WHERE session_id IN (${OLD_SESSIONS})`),
    };
    if (!dryRun) {
      db.prepare(`DELETE FROM jobs WHERE ${OLD_JOBS}`).run({ cutoff });
      db.prepare(`DELETE FROM events WHERE session_id IN (${OLD_SESSIONS})`).run({ cutoff });
      db.prepare(`DELETE FROM idempotency WHERE session_id IN (${OLD_SESSIONS})`).run({ cutoff });
      db.prepare(`DELETE FROM sessions WHERE id IN (${OLD_SESSIONS})`).run({ cutoff });
    }
    return c;
  })();
  if (!dryRun) db.pragma('wal_checkpoint(TRUNCATE)');
  return { cutoff, dryRun, removed };
}
