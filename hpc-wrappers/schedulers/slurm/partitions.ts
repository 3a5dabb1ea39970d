// Slurm's partitions from ONE `sinfo` call, as dialect data for SchedulerAdapter.partitions():
// the bridge uses them to mark profiles whose partition does not exist (or is down) before a
// student picks one.
import type { PartitionInfo } from '../types.js';

/** `--all`: hidden partitions still take jobs; `%P` marks the default one with `*`. */
export const SINFO_ARGS = ['--noheader', '--all', '--format=%P|%a'];

/** Parses `sinfo --noheader --format=%P|%a` (one line per partition, maybe repeated). */
export function parseSinfoPartitions(stdout: string): PartitionInfo[] {
  const seen = new Map<string, PartitionInfo>();
  for (const line of stdout.split('\n')) {
    const m = /^\s*([A-Za-z0-9_.-]+)(\*?)\|(\S+)\s*$/.exec(line);
    if (!m) continue;
    const [, name, star, state] = m as unknown as [string, string, string, string];
    const prev = seen.get(name);
    const info: PartitionInfo = { name, state, available: state === 'up', default: star === '*' };
    seen.set(name, prev ? { ...prev, available: prev.available || info.available, default: prev.default || info.default } : info);
  }
  return [...seen.values()];
}
