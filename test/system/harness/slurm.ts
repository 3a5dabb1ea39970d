// A real one-node Slurm cluster (private munged + slurmctld + slurmd) in one dir.
// Clients find it only through SLURM_CONF=<dir>/slurm.conf (cluster.env).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureUser, runAs } from './accounts.js';
import { startMunge, stopMunge } from './munge.js';
import { freePorts } from './ports.js';
import {
  belongsToDir, isAlive, killProcessesInDir, readPidFile, run, spawnDaemon, tail, terminate, waitFor,
  type RunResult,
} from './proc.js';
import { defaultRealMemoryMB, renderSlurmConf, shortHostname, slurmPaths } from './slurm-conf.js';
import { accountingConfLines, registerCluster, startSlurmdbd, stopSlurmdbd, type AccountingOptions } from './slurmdbd.js';

export interface SlurmOptions {
  /** Directory for everything (conf, state, spool, logs, pids, munge). Made 0755. */
  dir: string;
  /** Accounts to create (ensureUser) before the cluster starts. */
  users?: string[];
  clusterName?: string;
  /** Declared CPUs (default 20, more than exist: config_overrides). */
  cpus?: number;
  realMemoryMB?: number;
  defMemPerCPU?: number;
  /**
   * slurm.conf MessageTimeout in seconds (default 3). With slurmctld down, a client
   * fails after about (MessageTimeout-1) s (squeue, sinfo, sbatch, squeue -j 1,2)
   * or 2*(MessageTimeout-1) s (squeue -j ONE_ID, scontrol show job).
   */
  messageTimeout?: number;
  /** More slurm.conf lines (inserted before NodeName/PartitionName). */
  extraConf?: string[];
  readyTimeoutMs?: number;
  /**
   * Job accounting (sacct): a private MariaDB + slurmdbd in `dir` (slurmdbd.ts), the cluster
   * registered before slurmctld starts. Adds ~10-20 s to the start. Default: none.
   */
  accounting?: boolean | AccountingOptions;
}

export interface SlurmJob {
  id: string;
  state: string;
  user: string;
  name: string;
}

export interface SlurmCluster {
  dir: string;
  confPath: string;
  nodeName: string;
  clusterName: string;
  ports: { slurmctld: number; slurmd: number };
  /** `{SLURM_CONF}`: merge into the env of every sbatch/squeue/scancel. */
  env: { SLURM_CONF: string };
  /** process.env + env. */
  fullEnv(): NodeJS.ProcessEnv;
  /** Runs a Slurm client (or anything) with SLURM_CONF; as `user` via runuser if given. */
  run(argv: readonly string[], opts?: { user?: string; cwd?: string; timeoutMs?: number }): Promise<RunResult>;
  /** Jobs squeue lists (throws when the controller cannot be reached). */
  squeue(): Promise<SlurmJob[]>;
  controllerRunning(): boolean;
  /** SIGTERM slurmctld (it saves state); slurmd and running jobs stay. */
  stopController(): Promise<void>;
  /**
   * Restarts slurmctld from the saved state (no -c). Waits until it answers and,
   * unless waitForNode is false, until the node has re-registered (not `unk`):
   * about 1 s for the controller, 4 s for the node.
   */
  startController(opts?: { waitForNode?: boolean }): Promise<void>;
  logs(): { slurmctld: string; slurmd: string; munged: string };
  /** Cancels jobs, stops the daemons by pid, then kills leftovers in dir. */
  stop(): Promise<void>;
}

interface Info {
  clusterName: string;
  nodeName: string;
  ports: { slurmctld: number; slurmd: number };
}

export async function startSlurm(opts: SlurmOptions): Promise<SlurmCluster> {
  const dir = path.resolve(opts.dir);
  const p = slurmPaths(dir);
  for (const d of [dir, p.spool, p.log]) {
    mkdirSync(d, { recursive: true });
    chmodSync(d, 0o755);
  }
  mkdirSync(p.state, { recursive: true, mode: 0o700 });
  for (const u of opts.users ?? []) await ensureUser(u);
  const oldCtld = readPidFile(p.ctldPid);
  if (oldCtld !== null && isAlive(oldCtld) && belongsToDir(oldCtld, dir)) {
    throw new Error(`a slurmctld already runs for ${dir}; stop it first (cli.ts down --dir ${dir})`);
  }
  const munge = await startMunge(p.munge);
  const [ctldPort, slurmdPort, dbPort, dbdPort] = await freePorts(4);
  const info: Info = {
    clusterName: opts.clusterName ?? 'harness',
    nodeName: shortHostname(),
    ports: { slurmctld: ctldPort!, slurmd: slurmdPort! },
  };
  const conf = renderSlurmConf({
    dir,
    clusterName: info.clusterName,
    nodeName: info.nodeName,
    ctldPort: info.ports.slurmctld,
    slurmdPort: info.ports.slurmd,
    mungeSocket: munge.socket,
    cpus: opts.cpus ?? 20,
    realMemoryMB: opts.realMemoryMB ?? defaultRealMemoryMB(),
    defMemPerCPU: opts.defMemPerCPU ?? 256,
    messageTimeout: opts.messageTimeout ?? 3,
    extraConf: opts.extraConf ?? [],
    accounting: opts.accounting ? accountingConfLines(dbdPort!, munge.socket) : null,
  });
  writeFileSync(p.conf, conf, { mode: 0o644 });
  chmodSync(p.conf, 0o644);
  writeFileSync(p.info, JSON.stringify(info, null, 2) + '\n');
  const cluster = attachSlurm(dir);
  try {
    if (opts.accounting) {
      await startSlurmdbd({ dir, env: cluster.fullEnv(), mungeSocket: munge.socket, dbPort: dbPort!, dbdPort: dbdPort! });
      await registerCluster(cluster.fullEnv(), info.clusterName, opts.accounting === true ? {} : opts.accounting);
    }
    spawnDaemon(['slurmctld', '-D', '-c'], { cwd: dir, env: cluster.fullEnv(), logFile: p.ctldOut });
    spawnDaemon(['slurmd', '-D'], { cwd: dir, env: cluster.fullEnv(), logFile: p.slurmdOut });
    await waitNodeReady(cluster, opts.readyTimeoutMs ?? 30_000, (s) => s === 'idle');
  } catch (e) {
    await cluster.stop().catch(() => {});
    throw e;
  }
  return cluster;
}

/** A handle on a cluster started earlier in `dir` (e.g. by `cli.ts up`). */
export function attachSlurm(dirArg: string): SlurmCluster {
  const dir = path.resolve(dirArg);
  const p = slurmPaths(dir);
  const info = JSON.parse(readFileSync(p.info, 'utf8')) as Info;
  const env = { SLURM_CONF: p.conf };
  const fullEnv = (): NodeJS.ProcessEnv => ({ ...process.env, ...env });
  const ctldPid = () => {
    const pid = readPidFile(p.ctldPid);
    return pid !== null && isAlive(pid) && belongsToDir(pid, dir) ? pid : null;
  };
  const cluster: SlurmCluster = {
    dir,
    confPath: p.conf,
    nodeName: info.nodeName,
    clusterName: info.clusterName,
    ports: info.ports,
    env,
    fullEnv,
    run(argv, o = {}) {
      if (o.user) return runAs(o.user, argv, { env: fullEnv(), cwd: o.cwd, timeoutMs: o.timeoutMs });
      return run(argv, { env: fullEnv(), cwd: o.cwd, timeoutMs: o.timeoutMs });
    },
    async squeue() {
      const r = await run(['squeue', '-h', '-a', '-o', '%i|%T|%u|%j'], { env: fullEnv(), timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`squeue failed (${r.code}): ${r.stderr.trim()}`);
      return r.stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => {
          const [id = '', state = '', user = '', ...name] = l.split('|');
          return { id, state, user, name: name.join('|') };
        });
    },
    controllerRunning: () => ctldPid() !== null,
    async stopController() {
      const pid = ctldPid();
      if (pid !== null) await terminate(pid, 10_000);
    },
    async startController(o = {}) {
      if (ctldPid() !== null) return;
      spawnDaemon(['slurmctld', '-D'], { cwd: dir, env: fullEnv(), logFile: p.ctldOut });
      const nodeOk = (s: string) => !/unk|down|drain|fail|\*/.test(s);
      await waitNodeReady(cluster, 30_000, o.waitForNode === false ? () => true : nodeOk);
    },
    logs: () => ({
      slurmctld: existsSync(p.ctldLog) ? readFileSync(p.ctldLog, 'utf8') : '',
      slurmd: existsSync(p.slurmdLog) ? readFileSync(p.slurmdLog, 'utf8') : '',
      munged: existsSync(path.join(p.munge, 'munged.log')) ? readFileSync(path.join(p.munge, 'munged.log'), 'utf8') : '',
    }),
    stop: () => stopSlurmDir(dir),
  };
  return cluster;
}

async function waitNodeReady(c: SlurmCluster, timeoutMs: number, ok: (state: string) => boolean): Promise<void> {
  const p = slurmPaths(c.dir);
  let last = '';
  await waitFor(
    async () => {
      const r = await run(['sinfo', '-h', '-N', '-n', c.nodeName, '-o', '%t'], { env: c.fullEnv(), timeoutMs: 15_000 });
      last = (r.stdout + r.stderr).trim();
      return r.code === 0 && ok(r.stdout.trim());
    },
    {
      timeoutMs,
      intervalMs: 250,
      onTimeout: () =>
        `Slurm node ${c.nodeName} not ready after ${timeoutMs} ms (sinfo: ${last})\n` +
        `--- slurmctld.log\n${tail(p.ctldLog)}\n--- slurmctld.out\n${tail(p.ctldOut, 10)}\n` +
        `--- slurmd.log\n${tail(p.slurmdLog)}\n--- slurmd.out\n${tail(p.slurmdOut, 10)}`,
    },
  );
}

/**
 * Stops the cluster in `dir` using only what is recorded there: cancels all jobs
 * (if the controller answers), SIGTERM→SIGKILL slurmctld, slurmd and munged by
 * their pid files, then SIGKILLs any leftover process whose cwd is in `dir`
 * (slurmstepd inherits slurmd's cwd) together with its descendants.
 */
export async function stopSlurmDir(dirArg: string): Promise<void> {
  const dir = path.resolve(dirArg);
  const p = slurmPaths(dir);
  const owned = (f: string) => {
    const pid = readPidFile(f);
    return pid !== null && isAlive(pid) && belongsToDir(pid, dir) ? pid : null;
  };
  const env = { ...process.env, SLURM_CONF: p.conf };
  if (owned(p.ctldPid) !== null && existsSync(p.conf)) {
    const q = await run(['squeue', '-h', '-a', '-o', '%i'], { env, timeoutMs: 15_000 }).catch(() => null);
    const ids = q?.code === 0 ? q.stdout.split('\n').filter((s) => s.trim()) : [];
    if (ids.length > 0) {
      await run(['scancel', ...ids], { env, timeoutMs: 15_000 }).catch(() => null);
      await waitFor(
        async () => {
          const r = await run(['squeue', '-h', '-a', '-o', '%i'], { env, timeoutMs: 15_000 });
          return r.code !== 0 || r.stdout.trim() === '';
        },
        { timeoutMs: 20_000, intervalMs: 300 },
      ).catch(() => {});
    }
  }
  const ctld = owned(p.ctldPid);
  if (ctld !== null) await terminate(ctld, 10_000);
  const slurmd = owned(p.slurmdPid);
  if (slurmd !== null) await terminate(slurmd, 5_000);
  await stopSlurmdbd(dir);
  await stopMunge(p.munge);
  await killProcessesInDir(dir);
}
