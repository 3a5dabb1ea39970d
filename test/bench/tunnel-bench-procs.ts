// Child processes of the tunnel benchmarks: the endpoint host and the agents host (their
// own processes, as in production the bridge and the jobs are), driven by one-line
// commands on stdin with one JSON line back; plus CPU and memory of a process from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO } from './bench-cluster.js';

/** CPU time (user + system, ms) a process has used so far. */
export function cpuMs(pid: number | undefined): number {
  if (!pid) return NaN;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return NaN; // exited
  }
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * (1000 / 100); // clock ticks (USER_HZ 100)
}

/** Resident memory of a process in MiB. */
export function rssMiB(pid: number | undefined): number {
  if (!pid) return NaN;
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export interface LineProc {
  child: ChildProcess;
  pid: number;
  /** Sends a command; resolves with the next JSON line. */
  ask<T = Record<string, number>>(command: string): Promise<T>;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** Runs a bench script with tsx; resolves after its first JSON line (its "ready"). */
export async function startLineProc(script: string, options: unknown): Promise<LineProc & { first: Record<string, unknown> }> {
  const child = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), '--import', 'tsx', join(REPO, 'test/bench', script), JSON.stringify(options)], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += String(d)));
  const waiting: ((line: string) => void)[] = [];
  const early: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const w = waiting.shift();
    if (w) w(line);
    else early.push(line);
  });
  const next = () =>
    new Promise<string>((resolve, reject) => {
      const e = early.shift();
      if (e !== undefined) return resolve(e);
      const t = setTimeout(() => reject(new Error(`${script}: no answer (${err.trim().slice(-500)})`)), 120_000);
      waiting.push((l) => {
        clearTimeout(t);
        resolve(l);
      });
    });
  const exited = new Promise<void>((r) => child.on('close', () => r()));
  const first = JSON.parse(await next()) as Record<string, unknown>;
  return {
    child,
    pid: child.pid!,
    first,
    async ask<T>(command: string) {
      child.stdin!.write(`${command}\n`);
      return JSON.parse(await next()) as T;
    },
    async stop() {
      child.stdin!.end();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
