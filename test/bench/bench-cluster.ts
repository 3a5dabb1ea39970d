// Shared set-up for benchmarks: a real Slurm (when run as root with slurm installed) or
// the fork scheduler, the bundled hpc-wrap, and a store pre-filled with N live sessions.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { HpcWrapClient } from '../../hub-bridge/cluster/hpc-wrap-client.js';
import { LocalTransport } from '../../hub-bridge/transport/local-transport.js';
import type { RunOptions, RunResult, Transport } from '../../hub-bridge/transport/types.js';
import { SessionStore } from '../../hub-bridge/store/session-store.js';
import { ensureUser, startSlurm, type SlurmCluster } from '../system/harness/index.js';

export const REPO = resolve(import.meta.dirname, '../..');
export const SERVICE_ACCOUNT = 'hpcbridge-svc';
export const silentLog = pino({ level: 'silent' });

export class CountingTransport implements Transport {
  calls = 0;
  constructor(private readonly inner: Transport) {}
  get description() {
    return this.inner.description;
  }
  run(argv: readonly string[], opts: RunOptions): Promise<RunResult> {
    this.calls++;
    return this.inner.run(argv, opts);
  }
  close() {
    return this.inner.close();
  }
}

export interface BenchCluster {
  dir: string;
  slurm: SlurmCluster | null;
  transport: CountingTransport;
  client: HpcWrapClient;
  hpcWrap: string[];
  stop(): Promise<void>;
}

export function slurmAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('which', ['slurmctld', 'munged'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function benchCluster(): Promise<BenchCluster> {
  const dir = mkdtempSync('/tmp/hpc-bridge-bench-');
  chmodSync(dir, 0o755);
  const useSlurm = slurmAvailable();
  let slurm: SlurmCluster | null = null;
  const workDir = join(dir, 'hpc');
  mkdirSync(workDir, { mode: 0o755 });
  const bin = join(dir, 'hpc-wrap.mjs');
  copyFileSync(join(REPO, 'dist/hpc-wrap.mjs'), bin);
  chmodSync(bin, 0o755);
  let runAs: string | null = null;
  if (useSlurm) {
    const svc = await ensureUser(SERVICE_ACCOUNT);
    chownSync(workDir, svc.uid, svc.gid);
    slurm = await startSlurm({ dir: join(dir, 'slurm') });
    runAs = SERVICE_ACCOUNT;
  }
  const cfg = join(dir, 'hpc-wrap.yaml');
  writeFileSync(cfg, stringify({ workDir, scheduler: slurm ? { kind: 'slurm', env: slurm.env } : { kind: 'fork' } }));
  const hpcWrap = [process.execPath, bin, '--config', cfg];
  const transport = new CountingTransport(new LocalTransport({ runAs }));
  return {
    dir,
    slurm,
    transport,
    hpcWrap,
    client: new HpcWrapClient(transport, hpcWrap, 120_000),
    async stop() {
      await slurm?.stop();
    },
  };
}

/** A store with n live ("ready") sessions whose job ids the scheduler does not know. */
export function storeWithSessions(file: string, n: number, firstJobId = 900_000): SessionStore {
  const store = new SessionStore(file);
  for (let i = 0; i < n; i++) {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
    let x = i;
    let id = 's-';
    for (let k = 0; k < 26; k++, x = Math.floor(x / 32)) id += alphabet[x % 32];
    store.create({ id, user: `user${i}`, serverName: '', profile: 'default', servicePrefix: `/user/user${i}/`, submitDoc: '{}' }, null);
    store.update(id, { state: 'ready', jobId: String(firstJobId + i), jobState: 'running', host: '127.0.0.1', port: 1 });
  }
  return store;
}

/** Counts of controller RPCs that read job information (sdiag), per type. */
export async function jobInfoRpcs(slurm: SlurmCluster): Promise<number> {
  const r = await slurm.run(['sdiag']);
  let total = 0;
  for (const m of r.stdout.matchAll(/^\s*(REQUEST_JOB_INFO\w*)\s+\(\s*\d+\)\s+count:(\d+)/gm)) total += Number(m[2]);
  return total;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function table(rows: (string | number)[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  return rows.map((r) => r.map((v, c) => String(v).padEnd(widths[c]!)).join('  ')).join('\n');
}

export { existsSync };
