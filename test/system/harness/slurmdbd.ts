// Slurm accounting for a harness cluster: a private MariaDB (own datadir, socket, port,
// pid file; never the system's /var/lib/mysql) and a slurmdbd on it, both in
// `<slurm dir>/`. slurmdbd reads slurmdbd.conf next to slurm.conf (SLURM_CONF's dir).
// Started before slurmctld (the cluster is registered with sacctmgr first), stopped by pid.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { belongsToDir, isAlive, readPidFile, run, runOk, spawnDaemon, tail, terminate, waitFor } from './proc.js';

export interface AccountingOptions {
  /** Accounts to create and the users to associate with them (user → account). */
  associations?: Array<{ user: string; account: string }>;
}

export function slurmdbdPaths(dir: string) {
  const db = path.join(dir, 'mariadb');
  return {
    conf: path.join(dir, 'slurmdbd.conf'),
    pid: path.join(dir, 'slurmdbd.pid'),
    log: path.join(dir, 'log', 'slurmdbd.log'),
    out: path.join(dir, 'log', 'slurmdbd.out'),
    db,
    dbData: path.join(db, 'data'),
    dbSocket: path.join(db, 'mysqld.sock'),
    dbPid: path.join(db, 'mysqld.pid'),
    dbLog: path.join(db, 'mysqld.err'),
    dbOut: path.join(db, 'mysqld.out'),
  };
}

/**
 * slurm.conf lines that send job records to this slurmdbd. AccountingStoragePass names the
 * munge socket for the slurmdbd connection (else clients look for /run/munge's).
 */
export function accountingConfLines(port: number, mungeSocket: string): string[] {
  return ['AccountingStorageType=accounting_storage/slurmdbd', 'AccountingStorageHost=127.0.0.1', `AccountingStoragePort=${port}`, `AccountingStoragePass=${mungeSocket}`];
}

const mariadbClient = (socket: string) => ['mariadb', '--no-defaults', `--socket=${socket}`, '--user=root', '--batch'];

/**
 * Initialises (first time) and starts mariadbd, creates the slurm database and account,
 * writes slurmdbd.conf and starts slurmdbd. `env` must carry SLURM_CONF (slurm.conf is
 * already written with accountingConfLines(dbdPort)). Returns when sacctmgr answers.
 */
export async function startSlurmdbd(opts: { dir: string; env: NodeJS.ProcessEnv; mungeSocket: string; dbPort: number; dbdPort: number }): Promise<void> {
  const p = slurmdbdPaths(opts.dir);
  mkdirSync(p.db, { recursive: true, mode: 0o700 });
  chmodSync(p.db, 0o700);
  if (!existsSync(path.join(p.dbData, 'mysql'))) {
    await runOk(['mariadb-install-db', '--no-defaults', `--datadir=${p.dbData}`, '--user=root', '--auth-root-authentication-method=socket', '--skip-test-db'], {
      cwd: p.db,
      timeoutMs: 120_000,
    });
  }
  spawnDaemon(
    [
      'mariadbd', '--no-defaults', `--datadir=${p.dbData}`, `--socket=${p.dbSocket}`, `--port=${opts.dbPort}`,
      '--bind-address=127.0.0.1', `--pid-file=${p.dbPid}`, `--log-error=${p.dbLog}`, '--user=root', '--skip-name-resolve',
      '--innodb-buffer-pool-size=32M', '--performance-schema=OFF', '--skip-log-bin',
      // slurmdbd's recommended settings (its log warns otherwise)
      '--innodb-lock-wait-timeout=900', '--innodb-log-file-size=64M',
    ],
    { cwd: p.db, logFile: p.dbOut },
  );
  await waitFor(async () => (await run([...mariadbClient(p.dbSocket), '-e', 'SELECT 1'], { timeoutMs: 10_000 })).code === 0, {
    timeoutMs: 60_000,
    intervalMs: 250,
    onTimeout: () => `mariadbd did not come up:\n${tail(p.dbLog)}\n${tail(p.dbOut, 10)}`,
  });
  // The password goes on stdin and into the 0600 slurmdbd.conf, never into an argv.
  const password = randomBytes(18).toString('hex');
  await runOk(mariadbClient(p.dbSocket), {
    input: [
      'CREATE DATABASE IF NOT EXISTS slurm_acct_db;',
      `CREATE OR REPLACE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '${password}';`,
      "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';",
      '',
    ].join('\n'),
    timeoutMs: 30_000,
  });
  writeFileSync(
    p.conf,
    [
      '# Written by test/system/harness/slurmdbd.ts',
      'AuthType=auth/munge',
      `AuthInfo=socket=${opts.mungeSocket}`,
      'DbdHost=localhost',
      'DbdAddr=127.0.0.1',
      `DbdPort=${opts.dbdPort}`,
      'SlurmUser=root',
      `PidFile=${p.pid}`,
      `LogFile=${p.log}`,
      'StorageType=accounting_storage/mysql',
      'StorageHost=127.0.0.1',
      `StoragePort=${opts.dbPort}`,
      'StorageUser=slurm',
      `StoragePass=${password}`,
      'StorageLoc=slurm_acct_db',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  chmodSync(p.conf, 0o600);
  spawnDaemon(['slurmdbd', '-D'], { cwd: opts.dir, env: opts.env, logFile: p.out });
  await waitFor(async () => (await run(['sacctmgr', '-n', '-P', 'list', 'cluster'], { env: opts.env, timeoutMs: 15_000 })).code === 0, {
    timeoutMs: 60_000,
    intervalMs: 300,
    onTimeout: () => `slurmdbd did not answer sacctmgr:\n${tail(p.log)}\n${tail(p.out, 10)}`,
  });
}

/** Registers the cluster and the associations (before slurmctld starts). */
export async function registerCluster(env: NodeJS.ProcessEnv, clusterName: string, acc: AccountingOptions): Promise<void> {
  const list = await runOk(['sacctmgr', '-n', '-P', 'list', 'cluster', 'format=cluster'], { env });
  if (!list.stdout.split('\n').includes(clusterName)) await runOk(['sacctmgr', '-i', 'add', 'cluster', clusterName], { env });
  for (const account of new Set((acc.associations ?? []).map((a) => a.account))) {
    await runOk(['sacctmgr', '-i', 'add', 'account', account, `Cluster=${clusterName}`], { env }).catch(() => {}); // may exist
  }
  for (const a of acc.associations ?? []) {
    await runOk(['sacctmgr', '-i', 'add', 'user', a.user, `Account=${a.account}`, `Cluster=${clusterName}`], { env }).catch(() => {});
  }
}

/** Stops slurmdbd, then mariadbd, by their pid files (checked to belong to `dir`). */
export async function stopSlurmdbd(dir: string): Promise<void> {
  const p = slurmdbdPaths(dir);
  const dbd = readPidFile(p.pid);
  if (dbd !== null && isAlive(dbd) && belongsToDir(dbd, dir)) await terminate(dbd, 10_000);
  const db = readPidFile(p.dbPid);
  if (db !== null && isAlive(db) && belongsToDir(db, dir)) await terminate(db, 30_000);
}
