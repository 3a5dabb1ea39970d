// Samples every process's command line (/proc/*/cmdline) while a test runs, so the test can
// assert afterwards that no secret ever appeared in any argv (visible to `ps` for everyone).
import { readdirSync, readFileSync } from 'node:fs';

export interface CmdlineSampler {
  /** Distinct command lines seen so far (arguments joined with spaces). */
  seen(): string[];
  stop(): string[];
}

function snapshot(into: Set<string>): void {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const raw = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (raw) into.add(raw.split('\0').join(' ').trim());
    } catch {
      /* the process ended meanwhile */
    }
  }
}

export function sampleCmdlines(everyMs = 25): CmdlineSampler {
  const seen = new Set<string>();
  snapshot(seen);
  const timer = setInterval(() => snapshot(seen), everyMs);
  return {
    seen: () => [...seen],
    stop: () => {
      clearInterval(timer);
      snapshot(seen);
      return [...seen];
    },
  };
}

/** The environment of a process (root can read any), as a map. */
export function processEnviron(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** Pids whose command line contains `needle`. */
export function pidsMatching(needle: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(needle)) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}
