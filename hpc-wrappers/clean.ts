// `hpc-wrap clean --older-than AGE [--dry-run]`: removes run dirs of sessions whose job
// is over and that nothing touched for AGE. The scheduler is asked ONCE for every candidate's job; if it cannot be reached nothing is removed,
// and a job it still lists as pending or running is never touched. Meant for cron or a
// systemd timer (docs/retention.md), as root or the account that owns workDir.
import { lstatSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isSessionId, unescapeName, validateJobId } from '../contract/names.js';
import type { CommandContext } from './command-context.js';
import { WrapError } from './errors.js';
import type { JobState } from './schedulers/types.js';

export interface CleanOptions {
  olderThanSeconds: number;
  dryRun: boolean;
  now?: number;
}

export interface CleanReport {
  dryRun: boolean;
  olderThanSeconds: number;
  removed: { user: string; sessionId: string; jobId: string | null; runDir: string }[];
  /** Old enough but the scheduler still lists the job as not over. */
  keptLive: number;
  /** Touched within the age. */
  keptRecent: number;
}

const LIVE: ReadonlySet<JobState> = new Set(['pending', 'running', 'completing', 'unknown']);

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Newest mtime of the run dir and the files directly in it (start-env writes status.json as the job lives). */
function lastTouched(runDir: string): number {
  let newest = statSync(runDir).mtimeMs;
  for (const name of listDir(runDir)) {
    try {
      newest = Math.max(newest, lstatSync(join(runDir, name)).mtimeMs);
    } catch {
      /* vanished */
    }
  }
  return newest;
}

function jobIdIn(runDir: string): string | null {
  try {
    return validateJobId(readFileSync(join(runDir, 'jobid'), 'utf8').trim());
  } catch {
    return null;
  }
}

interface Candidate {
  user: string;
  sessionId: string;
  runDir: string;
  jobId: string | null;
}

export async function clean(ctx: CommandContext, opts: CleanOptions): Promise<CleanReport> {
  const cutoff = (opts.now ?? Date.now()) - opts.olderThanSeconds * 1000;
  const report: CleanReport = { dryRun: opts.dryRun, olderThanSeconds: opts.olderThanSeconds, removed: [], keptLive: 0, keptRecent: 0 };
  const candidates: Candidate[] = [];
  for (const escaped of listDir(ctx.layout.usersDir)) {
    let user: string;
    try {
      user = unescapeName(escaped);
    } catch {
      continue; // not a directory hpc-wrap made
    }
    const sessionsDir = join(ctx.layout.usersDir, escaped, 'sessions');
    for (const sessionId of listDir(sessionsDir)) {
      const runDir = join(sessionsDir, sessionId);
      if (!isSessionId(sessionId) || !lstatSync(runDir).isDirectory()) continue;
      if (lastTouched(runDir) > cutoff) {
        report.keptRecent++;
        continue;
      }
      candidates.push({ user, sessionId, runDir, jobId: jobIdIn(runDir) });
    }
  }
  const ids = [...new Set(candidates.map((c) => c.jobId).filter((j): j is string => j !== null))];
  const scheduler = ctx.scheduler();
  const q = ids.length ? await scheduler.query(ids) : { reachable: true, error: null, jobs: new Map() };
  if (!q.reachable) {
    throw new WrapError('scheduler', `the scheduler could not be asked whether ${ids.length} old job(s) are over, so nothing was removed: ${q.error ?? 'no answer'}`);
  }
  for (const c of candidates) {
    const listed = c.jobId ? q.jobs.get(c.jobId) : undefined;
    if (listed && LIVE.has(listed.state)) {
      report.keptLive++;
      continue;
    }
    if (!opts.dryRun) rmSync(c.runDir, { recursive: true, force: true });
    report.removed.push(c);
  }
  ctx.log.info('clean.done', { dryRun: opts.dryRun, removed: report.removed.length, keptLive: report.keptLive, keptRecent: report.keptRecent });
  return report;
}
