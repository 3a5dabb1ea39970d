// Slurm accounting through sacct (needs slurmdbd), as dialect data: ONE `sacct --parsable2
// --noheader --allocations --jobs=ID,...` call for all ids (one per cluster on a
// multi-cluster site), times as epoch seconds (SLURM_TIME_FORMAT=%s), the parser, and the
// words that mean "no accounting here". The generic adapter runs it.
import type { AccountingRecord } from '../../../contract/accounting.js';
import { mapSlurmState } from './states.js';

export const SACCT_FIELDS = [
  'JobID', 'State', 'ExitCode', 'ElapsedRaw', 'CPUTimeRAW', 'TotalCPU', 'AllocCPUS', 'AllocTRES',
  'Account', 'Partition', 'NodeList', 'Submit', 'Start', 'End',
] as const;

/** sacct's words for "there is no accounting here" (asking again will not help). */
export const SACCT_NOT_AVAILABLE = /accounting storage is disabled|AccountingStorageType.*none|not running a supported accounting_storage plugin/i;

export function sacctArgs(jobs: string[], cluster: string | null): string[] {
  const args = ['--parsable2', '--noheader', '--allocations', `--format=${SACCT_FIELDS.join(',')}`];
  if (cluster) args.push(`--clusters=${cluster}`);
  args.push(`--jobs=${jobs.join(',')}`);
  return args;
}

const orNull = (s: string | undefined) => (s === undefined || s === '' || /^(Unknown|None|N\/A)$/i.test(s) ? null : s);

function int(s: string | undefined): number | null {
  const v = orNull(s);
  if (v === null || !/^\d+$/.test(v)) return null;
  return Number(v);
}

function epoch(s: string | undefined): string | null {
  const n = int(s);
  return n === null || n === 0 ? null : new Date(n * 1000).toISOString();
}

/** `[D-][HH:]MM:SS[.mmm]` → seconds. */
export function slurmDuration(s: string | undefined): number | null {
  const v = orNull(s);
  const m = v ? /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$/.exec(v) : null;
  if (!m) return null;
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

const MEMORY_UNIT_MB: Record<string, number> = { K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024, P: 1024 * 1024 * 1024 };

/** AllocTRES `billing=2,cpu=2,gres/gpu=1,mem=512M,node=1` → the GPUs and memory in it. */
export function parseTres(tres: string | undefined): { gpus: number | null; memoryMB: number | null } {
  let gpus: number | null = null;
  let typedGpus = 0;
  let memoryMB: number | null = null;
  for (const part of (tres ?? '').split(',')) {
    const [k, v] = part.split('=');
    if (!k || v === undefined) continue;
    if (k === 'gres/gpu') gpus = Number(v);
    else if (k.startsWith('gres/gpu:')) typedGpus += Number(v) || 0;
    else if (k === 'mem') {
      const m = /^(\d+(?:\.\d+)?)([KMGTP])?$/.exec(v);
      if (m) memoryMB = Math.round(Number(m[1]) * MEMORY_UNIT_MB[m[2] ?? 'M']!);
    }
  }
  return { gpus: gpus ?? (tres ? typedGpus : null), memoryMB };
}

/** Rows of `sacct --parsable2 --noheader --allocations --format=<SACCT_FIELDS>` for jobs that ended, by JobID. */
export function parseSacct(stdout: string): Map<string, AccountingRecord> {
  const out = new Map<string, AccountingRecord>();
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const f = line.split('|');
    if (f.length !== SACCT_FIELDS.length) continue;
    const [jobId, stateRaw, exit, elapsed, cpuTime, totalCpu, cpus, tres, account, partition, nodes, submit, start, end] = f;
    const state = (stateRaw ?? '').trim();
    const generic = mapSlurmState(state);
    if (!jobId || !['done', 'failed', 'cancelled'].includes(generic)) continue;
    const [code, sig] = (exit ?? '').split(':');
    const { gpus, memoryMB } = parseTres(tres);
    out.set(jobId, {
      state: state.split(/\s/)[0]!,
      exitCode: int(code),
      signal: int(sig),
      elapsedSeconds: int(elapsed),
      cpuSeconds: int(cpuTime),
      usedCpuSeconds: slurmDuration(totalCpu),
      cpus: int(cpus),
      gpus,
      memoryMB,
      account: orNull(account),
      partition: orNull(partition),
      nodes: orNull(nodes),
      submittedAt: epoch(submit),
      startedAt: epoch(start),
      endedAt: epoch(end),
    });
  }
  return out;
}

/** ONE sacct call per cluster for `ids` (`123` or `123;cluster` as sbatch --parsable printed them). */
export function sacctCalls(ids: readonly string[]): { args: string[]; env: Record<string, string>; idOf(listed: string): string }[] {
  const byCluster = new Map<string | null, string[]>();
  for (const id of ids) {
    const [job, cluster] = id.split(';');
    const key = cluster ?? null;
    byCluster.set(key, [...(byCluster.get(key) ?? []), job!]);
  }
  return [...byCluster].map(([cluster, group]) => ({
    args: sacctArgs([...new Set(group)], cluster),
    // epoch seconds: no time zone guessing
    env: { SLURM_TIME_FORMAT: '%s' },
    idOf: (job: string) => (cluster ? `${job};${cluster}` : job),
  }));
}
