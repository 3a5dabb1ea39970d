// A real one-host Grid Engine (Debian's gridengine 8.1.9: private sge_qmaster + sge_execd)
// in one dir, with its own SGE_ROOT/cell, classic spool and ports. Clients find it only
// through cluster.env (SGE_ROOT, SGE_CELL, SGE_QMASTER_PORT, SGE_EXECD_PORT); the system's
// /var/lib/gridengine cell is never touched.
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureUser, lookupUser, runAs } from './accounts.js';
import {
  DEFAULT_COMPLEXES, DEFAULT_USERSETS, GE_CELL, GE_PE, GE_QUEUE, gridEnginePaths, loopbackNames, renderBootstrap,
  renderConfiguration, renderHostAliases, renderPe, renderQueue, renderSchedulerConf, SGE_ADMIN, SYSTEM_SGE_ROOT,
} from './gridengine-conf.js';
import { freePorts } from './ports.js';
import {
  belongsToDir, isAlive, killProcessesInDir, readPidFile, run, runOk, spawnDaemon, tail, terminate, waitFor,
  type RunResult,
} from './proc.js';

export interface GridEngineOptions {
  /** Directory for everything (SGE_ROOT, spools, logs). Made 0755 (sgeadmin and job users read it). */
  dir: string;
  /** Accounts to create (ensureUser) before the cluster starts. GE runs jobs only for uid >= 1000. */
  users?: string[];
  /** Slots of the one queue (default 20, more than the machine's cores). */
  slots?: number;
  /** Scheduler run interval in seconds (default 1; Grid Engine's own default is 15). */
  scheduleIntervalSeconds?: number;
  readyTimeoutMs?: number;
}

export interface GridEngineJob {
  id: string;
  /** qstat's state letters: qw, hqw, r, t, dr, Eqw … */
  state: string;
  user: string;
  name: string;
  /** Slots it holds (running) or asks for (pending). */
  slots: number;
}

export interface GridEngineCluster {
  dir: string;
  /** The exec host's (and qmaster's) name, as Grid Engine reports it. */
  hostName: 'localhost';
  queue: string;
  /** Parallel environment for N cores on one host (`-pe smp N`). */
  pe: string;
  slots: number;
  ports: { qmaster: number; execd: number };
  /** Merge into the env of every qsub/qstat/qdel/qconf. */
  env: { SGE_ROOT: string; SGE_CELL: string; SGE_QMASTER_PORT: string; SGE_EXECD_PORT: string };
  fullEnv(): NodeJS.ProcessEnv;
  /** Runs a client (or anything) with env; as `user` via runuser if given (cwd: the user's home). */
  run(argv: readonly string[], opts?: { user?: string; cwd?: string; timeoutMs?: number }): Promise<RunResult>;
  /** Jobs qstat lists for all users (throws when the qmaster cannot be reached). */
  jobs(): Promise<GridEngineJob[]>;
  qmasterRunning(): boolean;
  /** SIGTERM sge_qmaster (it spools its state); the execd and running jobs stay. */
  stopQmaster(): Promise<void>;
  /** Restarts sge_qmaster from its spool and waits until it answers and the exec host reports again. */
  startQmaster(): Promise<void>;
  logs(): { qmaster: string; execd: string };
  /** Deletes jobs, stops the daemons by pid, then kills leftovers in dir. */
  stop(): Promise<void>;
}

interface Info {
  ports: { qmaster: number; execd: number };
  slots: number;
}

function chownAdmin(p: string, uid: number, gid: number): void {
  chownSync(p, uid, gid);
  if (statSync(p).isDirectory()) for (const e of readdirSync(p)) chownAdmin(path.join(p, e), uid, gid);
}

export async function startGridEngine(opts: GridEngineOptions): Promise<GridEngineCluster> {
  const dir = path.resolve(opts.dir);
  const p = gridEnginePaths(dir);
  const admin = await lookupUser(SGE_ADMIN);
  if (!admin) throw new Error(`no ${SGE_ADMIN} account: install gridengine-master gridengine-exec gridengine-client`);
  if (!existsSync(path.join(SYSTEM_SGE_ROOT, 'bin'))) throw new Error(`${SYSTEM_SGE_ROOT} is missing: install gridengine-client`);
  const oldQmaster = readPidFile(p.qmasterPid);
  if (oldQmaster !== null && isAlive(oldQmaster) && belongsToDir(oldQmaster, dir)) {
    throw new Error(`an sge_qmaster already runs for ${dir}; stop it first (stopGridEngineDir)`);
  }
  for (const d of [dir, p.root]) {
    mkdirSync(d, { recursive: true });
    chmodSync(d, 0o755);
  }
  // sgeadmin (the daemons) and the job users must reach the cell through every parent dir.
  for (let a = path.dirname(dir); a !== path.dirname(a); a = path.dirname(a)) {
    if ((statSync(a).mode & 0o001) === 0) throw new Error(`${a} is not searchable by other users (mode ${(statSync(a).mode & 0o777).toString(8)}): sgeadmin could not reach ${dir}; chmod o+x it or choose another dir`);
  }
  for (const d of [p.common, p.qmasterSpool, p.execdSpool]) mkdirSync(d, { recursive: true, mode: 0o755 });
  for (const sub of ['bin', 'lib', 'utilbin', 'util']) {
    const link = path.join(p.root, sub);
    if (!existsSync(link)) symlinkSync(path.join(SYSTEM_SGE_ROOT, sub), link);
  }
  for (const u of opts.users ?? []) await ensureUser(u);

  const [qmasterPort, execdPort] = await freePorts(2);
  const info: Info = { ports: { qmaster: qmasterPort!, execd: execdPort! }, slots: opts.slots ?? 20 };
  writeFileSync(p.bootstrap, renderBootstrap(p));
  writeFileSync(p.actQmaster, 'localhost\n');
  writeFileSync(p.hostAliases, renderHostAliases(loopbackNames()));
  writeFileSync(p.conf, renderConfiguration(p.execdSpool));
  writeFileSync(p.info, JSON.stringify(info, null, 2) + '\n');
  chownAdmin(path.join(p.root, GE_CELL), admin.uid, admin.gid);
  chownAdmin(p.qmasterSpool, admin.uid, admin.gid);
  chownAdmin(p.execdSpool, admin.uid, admin.gid);

  const cluster = attachGridEngine(dir);
  try {
    // Initial objects, written by the spooling library before the qmaster exists (as Debian's init_cluster does).
    const spoolDefaults = (args: string[]) => runAs(SGE_ADMIN, ['/usr/lib/gridengine/spooldefaults', ...args], { env: cluster.fullEnv(), cwd: dir });
    for (const args of [['configuration', p.conf], ['complexes', DEFAULT_COMPLEXES], ['usersets', DEFAULT_USERSETS], ['managers', SGE_ADMIN, 'root']]) {
      const r = await spoolDefaults(args);
      if (r.code !== 0) throw new Error(`spooldefaults ${args[0]} failed: ${r.stderr.trim() || r.stdout.trim()}`);
    }
    await cluster.startQmaster();
    const qconf = (args: string[], file?: string, text?: string) => {
      if (file && text !== undefined) writeFileSync(file, text);
      return runOk(['qconf', ...args], { env: cluster.fullEnv(), cwd: dir, timeoutMs: 30_000 });
    };
    await qconf(['-Msconf', path.join(dir, 'sched.conf')], path.join(dir, 'sched.conf'), renderSchedulerConf(opts.scheduleIntervalSeconds ?? 1));
    await qconf(['-as', 'localhost']);
    await qconf(['-Ap', path.join(dir, 'pe.conf')], path.join(dir, 'pe.conf'), renderPe());
    spawnDaemon(['/usr/lib/gridengine/sge_execd'], { cwd: dir, env: { ...cluster.fullEnv(), SGE_ND: 'true' }, logFile: p.execdOut });
    await waitExecHost(cluster, opts.readyTimeoutMs ?? 30_000);
    await qconf(['-Aq', path.join(dir, 'queue.conf')], path.join(dir, 'queue.conf'), renderQueue(info.slots));
  } catch (e) {
    await cluster.stop().catch(() => {});
    throw e;
  }
  return cluster;
}

/** The exec host is known and reports load (qhost shows a number, not `-`). */
async function waitExecHost(c: GridEngineCluster, timeoutMs: number): Promise<void> {
  let last = '';
  await waitFor(
    async () => {
      const r = await run(['qhost', '-h', 'localhost'], { env: c.fullEnv(), timeoutMs: 15_000 });
      last = (r.stdout + r.stderr).trim();
      const line = r.stdout.split('\n').find((l) => l.startsWith('localhost'));
      return r.code === 0 && line !== undefined && !/\s-\s+-\s+-\s*$/.test(line) && /lx-/.test(line);
    },
    { timeoutMs, intervalMs: 250, onTimeout: () => `Grid Engine exec host not up after ${timeoutMs} ms (qhost: ${last})\n${describeLogs(c.dir)}` },
  );
}

function describeLogs(dir: string): string {
  const p = gridEnginePaths(dir);
  return (
    `--- qmaster messages\n${tail(p.qmasterMessages)}\n--- qmaster.out\n${tail(p.qmasterOut, 10)}\n` +
    `--- execd messages\n${tail(p.execdMessages)}\n--- execd.out\n${tail(p.execdOut, 10)}`
  );
}

/** A handle on a cluster started earlier in `dir`. */
export function attachGridEngine(dirArg: string): GridEngineCluster {
  const dir = path.resolve(dirArg);
  const p = gridEnginePaths(dir);
  const info = JSON.parse(readFileSync(p.info, 'utf8')) as Info;
  const env = {
    SGE_ROOT: p.root,
    SGE_CELL: GE_CELL,
    SGE_QMASTER_PORT: String(info.ports.qmaster),
    SGE_EXECD_PORT: String(info.ports.execd),
  };
  const fullEnv = (): NodeJS.ProcessEnv => ({ ...process.env, ...env });
  const qmasterPid = () => {
    const pid = readPidFile(p.qmasterPid);
    return pid !== null && isAlive(pid) && belongsToDir(pid, dir) ? pid : null;
  };
  const cluster: GridEngineCluster = {
    dir,
    hostName: 'localhost',
    queue: GE_QUEUE,
    pe: GE_PE,
    slots: info.slots,
    ports: info.ports,
    env,
    fullEnv,
    run(argv, o = {}) {
      if (o.user) return runAs(o.user, argv, { env: fullEnv(), cwd: o.cwd, timeoutMs: o.timeoutMs });
      return run(argv, { env: fullEnv(), cwd: o.cwd ?? dir, timeoutMs: o.timeoutMs });
    },
    async jobs() {
      const r = await run(['qstat', '-u', '*', '-xml'], { env: fullEnv(), cwd: dir, timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`qstat failed (${r.code}): ${r.stderr.trim()}`);
      const jobs: GridEngineJob[] = [];
      for (const m of r.stdout.matchAll(/<job_list[^>]*>([\s\S]*?)<\/job_list>/g)) {
        const field = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(m[1]!)?.[1] ?? '';
        const id = field('JB_job_number');
        // an array's tasks are listed once per state; one entry per job is enough here
        if (!jobs.some((j) => j.id === id && j.state === field('state'))) {
          jobs.push({ id, state: field('state'), user: field('JB_owner'), name: field('JB_name'), slots: Number(field('slots')) || 1 });
        }
      }
      return jobs;
    },
    qmasterRunning: () => qmasterPid() !== null,
    async stopQmaster() {
      const pid = qmasterPid();
      // a controlled shutdown (spooling everything) takes ~6 s here
      if (pid !== null) await terminate(pid, 20_000);
    },
    async startQmaster() {
      if (qmasterPid() !== null) return;
      // SGE_ND: stay in the foreground (no daemonizing fork), so the pid we start is the qmaster's
      spawnDaemon(['/usr/lib/gridengine/sge_qmaster'], { cwd: dir, env: { ...fullEnv(), SGE_ND: 'true' }, logFile: p.qmasterOut });
      let last = '';
      await waitFor(
        async () => {
          const r = await run(['qstat', '-u', '*'], { env: fullEnv(), cwd: dir, timeoutMs: 10_000 });
          last = (r.stdout + r.stderr).trim();
          return r.code === 0;
        },
        { timeoutMs: 30_000, intervalMs: 200, onTimeout: () => `sge_qmaster did not answer within 30 s (qstat: ${last})\n${describeLogs(dir)}` },
      );
      if (existsSync(p.execdPid)) await waitExecHost(cluster, 60_000);
    },
    logs: () => ({
      qmaster: existsSync(p.qmasterMessages) ? readFileSync(p.qmasterMessages, 'utf8') : '',
      execd: existsSync(p.execdMessages) ? readFileSync(p.execdMessages, 'utf8') : '',
    }),
    stop: () => stopGridEngineDir(dir),
  };
  return cluster;
}

/**
 * Stops the cluster in `dir` using only what is recorded there: deletes all jobs (if the
 * qmaster answers), SIGTERM→SIGKILL sge_execd and sge_qmaster by their pid files, then
 * SIGKILLs every leftover process whose cwd is in `dir` (the shepherds run in the execd
 * spool) together with its descendants (the jobs).
 */
export async function stopGridEngineDir(dirArg: string): Promise<void> {
  const dir = path.resolve(dirArg);
  const p = gridEnginePaths(dir);
  const owned = (f: string) => {
    const pid = readPidFile(f);
    return pid !== null && isAlive(pid) && belongsToDir(pid, dir) ? pid : null;
  };
  if (owned(p.qmasterPid) !== null && existsSync(p.info)) {
    const c = attachGridEngine(dir);
    const ids = await c.jobs().then((js) => [...new Set(js.map((j) => j.id))], () => []);
    if (ids.length > 0) {
      await run(['qdel', '-f', ...ids], { env: c.fullEnv(), cwd: dir, timeoutMs: 15_000 }).catch(() => null);
      await waitFor(async () => (await c.jobs().catch(() => [])).length === 0, { timeoutMs: 20_000, intervalMs: 300 }).catch(() => {});
    }
  }
  const execd = owned(p.execdPid);
  if (execd !== null) await terminate(execd, 5_000);
  // Teardown: its spool is thrown away, so no need to wait for the ~8 s controlled shutdown.
  const qmaster = owned(p.qmasterPid);
  if (qmaster !== null) await terminate(qmaster, 500);
  await killProcessesInDir(dir);
}
