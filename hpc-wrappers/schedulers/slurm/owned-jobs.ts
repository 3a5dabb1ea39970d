// Slurm's answer to "whose job is this, and what does its comment say" for the launch
// gateway (docs/launch.md): one squeue call by users or by job ids, owner and comment
// included. The comment is the last field because it may itself contain '|'.
import { mapSlurmState } from './states.js';
import type { OwnedJob } from '../types.js';

/** id | user | state | batch host | comment */
export const OWNED_JOBS_FORMAT = '%i|%u|%T|%B|%k';

const EMPTY = new Set(['', 'N/A', 'NONE', '(NULL)', '(null)']);
const orNull = (s: string | undefined): string | null => {
  const t = (s ?? '').trim();
  return EMPTY.has(t) || EMPTY.has(t.toUpperCase()) ? null : t;
};

export function ownedJobsArgs(filter: { users?: string[]; ids?: string[] }): string[] {
  const args = ['--noheader', '--states=all', `--format=${OWNED_JOBS_FORMAT}`];
  const clusters = [...new Set((filter.ids ?? []).map((id) => id.split(';')[1]).filter((c): c is string => Boolean(c)))];
  if (clusters.length) args.push(`--clusters=${clusters.join(',')}`);
  if (filter.ids?.length) args.push(`--jobs=${[...new Set(filter.ids.map((id) => id.split(';')[0]))].join(',')}`);
  else if (filter.users?.length) args.push(`--users=${[...new Set(filter.users)].join(',')}`);
  return args;
}

export function parseOwnedJobs(stdout: string): OwnedJob[] {
  const jobs: OwnedJob[] = [];
  let cluster: string | null = null;
  for (const raw of stdout.split('\n')) {
    const line = raw.trimEnd();
    const header = /^CLUSTER:\s*(\S+)\s*$/.exec(line.trim());
    if (header) {
      cluster = header[1] ?? null;
      continue;
    }
    const f = line.split('|');
    if (f.length < 5) continue;
    const id = (f[0] ?? '').trim();
    if (!/^\d+(_\d+)?$/.test(id)) continue; // array ranges and het parts are never launch jobs
    const state = mapSlurmState(f[2] ?? '');
    jobs.push({
      id: cluster ? `${id};${cluster}` : id,
      user: (f[1] ?? '').trim(),
      state,
      node: state === 'pending' ? null : orNull(f[3]),
      comment: orNull(f.slice(4).join('|')),
    });
  }
  return jobs;
}
