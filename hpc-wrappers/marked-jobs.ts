// `hpc-wrap marked-jobs`: every live job that carries a session marker (JobSubmission.marker),
// with the session it belongs to, in ONE scheduler call. The bridge's orphan reaper reads it.
import type { MarkedJobsReport } from '../contract/jobstate.js';
import type { CommandContext } from './command-context.js';
import { MARKER_PREFIX, sessionIdOfMarker } from './layout.js';

export async function markedJobs(ctx: CommandContext): Promise<MarkedJobsReport> {
  const r = await ctx.scheduler().findMarked(MARKER_PREFIX);
  const jobs: MarkedJobsReport['jobs'] = [];
  for (const j of r.jobs) {
    const sessionId = sessionIdOfMarker(j.marker);
    if (sessionId) jobs.push({ jobId: j.jobId, sessionId, account: j.user, state: j.state });
  }
  return { reachable: r.reachable, error: r.error, jobs };
}
