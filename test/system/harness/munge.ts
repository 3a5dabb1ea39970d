// A private munged (own key, socket, pid file, log) for one harness cluster, so
// that it never touches the system's /etc/munge or /run/munge.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { belongsToDir, isAlive, readPidFile, run, spawnDaemon, tail, terminate, waitFor } from './proc.js';

export interface Munge {
  dir: string;
  /** Pass as `AuthInfo=socket=<socket>` in slurm.conf, or `munge -S <socket>`. */
  socket: string;
  pidFile: string;
  logFile: string;
  pid(): number | null;
  stop(): Promise<void>;
}

export function mungePaths(dir: string) {
  return {
    dir,
    socket: path.join(dir, 'munge.socket'),
    pidFile: path.join(dir, 'munged.pid'),
    logFile: path.join(dir, 'munged.log'),
    keyFile: path.join(dir, 'munge.key'),
    seedFile: path.join(dir, 'munged.seed'),
    outFile: path.join(dir, 'munged.out'),
  };
}

/**
 * Starts `munged -F` with its own key and socket in `dir` (made 0755 so that
 * unprivileged job users can reach the socket). Unix socket paths are limited to
 * 107 bytes, so keep `dir` short (a mkdtemp under /tmp is fine).
 */
export async function startMunge(dir: string): Promise<Munge> {
  const p = mungePaths(dir);
  if (Buffer.byteLength(p.socket) > 100) throw new Error(`munge socket path too long: ${p.socket}`);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const running = readPidFile(p.pidFile);
  if (running !== null && isAlive(running) && belongsToDir(running, dir)) return handle(dir);
  if (!existsSync(p.keyFile)) writeFileSync(p.keyFile, randomBytes(1024), { mode: 0o600 });
  chmodSync(p.keyFile, 0o600);
  const argv = [
    'munged', '-F', '--force',
    `--key-file=${p.keyFile}`,
    `--socket=${p.socket}`,
    `--pid-file=${p.pidFile}`,
    `--log-file=${p.logFile}`,
    `--seed-file=${p.seedFile}`,
  ];
  const pid = spawnDaemon(argv, { cwd: dir, logFile: p.outFile });
  await waitFor(
    async () => isAlive(pid) && existsSync(p.socket) && (await run(['munge', '-n', '-S', p.socket])).code === 0,
    {
      timeoutMs: 10_000,
      intervalMs: 100,
      onTimeout: () => `munged did not come up:\n${tail(p.outFile)}\n${tail(p.logFile)}`,
    },
  );
  return handle(dir);
}

export async function stopMunge(dir: string): Promise<void> {
  const pid = readPidFile(mungePaths(dir).pidFile);
  if (pid !== null && belongsToDir(pid, dir)) await terminate(pid);
}

function handle(dir: string): Munge {
  const p = mungePaths(dir);
  return {
    dir,
    socket: p.socket,
    pidFile: p.pidFile,
    logFile: p.logFile,
    pid: () => readPidFile(p.pidFile),
    stop: () => stopMunge(dir),
  };
}
