// `hpc-wrap launch-jobs [--user U]... [--job ID]...`: what the gateway verifies routes
// with, through its transport (contract/launch.ts). One scheduler call lists the launch
// jobs of the users (or the jobs by id) with owner and comment; one more gives the queue
// position and estimated start of those still pending. Jobs by id are reported whatever
// their comment (the gateway refuses those that do not match); by user only launch jobs.
import { parseComment, type LaunchJob, type LaunchJobsReport } from '../../contract/launch.js';
import type { CommandContext } from '../command-context.js';
import { WrapError } from '../errors.js';
import { validateJobIds } from '../jobstate.js';
import type { OwnedJob } from '../schedulers/types.js';

const ACCOUNT = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}\$?$/;

export async function launchJobs(ctx: CommandContext, users: readonly string[], rawIds: readonly string[]): Promise<LaunchJobsReport> {
  for (const u of users) if (!ACCOUNT.test(u)) throw new WrapError('invalid', `--user ${JSON.stringify(u.slice(0, 80))} is not an account name`);
  const ids = validateJobIds(rawIds);
  const scheduler = ctx.scheduler();
  if (!scheduler.ownedJobs) throw new WrapError('invalid', `the ${scheduler.name} scheduler cannot report job owners and comments (the gateway needs scheduler.kind: slurm)`);
  const found = new Map<string, OwnedJob>();
  const errors: string[] = [];
  if (users.length) {
    const r = await scheduler.ownedJobs({ users: [...new Set(users)] });
    if (!r.reachable) errors.push(r.error ?? 'unreachable');
    for (const j of r.jobs) if (parseComment(j.comment)) found.set(j.id, j);
  }
  if (ids.length) {
    const r = await scheduler.ownedJobs({ ids });
    if (!r.reachable) errors.push(r.error ?? 'unreachable');
    for (const j of r.jobs) if (ids.includes(j.id)) found.set(j.id, j);
  }
  const scheduler_ = { name: scheduler.name, reachable: errors.length === 0, error: errors.length ? errors.join('; ') : null };
  if (errors.length) return { scheduler: scheduler_, jobs: [] };
  const pending = [...found.values()].filter((j) => j.state === 'pending').map((j) => j.id);
  const q = pending.length ? await scheduler.query(pending) : null;
  const jobs: LaunchJob[] = [...found.values()].map((j) => {
    const s = q?.jobs.get(j.id);
    return { id: j.id, user: j.user, state: j.state, node: j.node, comment: j.comment, position: s?.position ?? null, estimatedStart: s?.estimatedStart ?? null, reason: s?.reason ?? null };
  });
  return { scheduler: scheduler_, jobs };
}
