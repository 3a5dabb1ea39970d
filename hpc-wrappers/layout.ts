// Where things live under workDir (docs/contracts.md §5) and how the directories are
// made: every per-user directory is owner-only, whatever the umask.
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join, relative, resolve, isAbsolute } from 'node:path';
import type { HpcWrapConfig } from '../config/schema.js';
import { escapeName, validateJobId } from '../contract/names.js';

export interface SessionPaths {
  userDir: string;
  runDir: string;
  spoolDir: string;
  secretsFile: string;
  jobFile: string;
  jobScript: string;
  jobIdFile: string;
  lockFile: string;
  statusFile: string;
  exitFile: string;
  outputLog: string;
  cancelledFile: string;
}

export class Layout {
  constructor(private readonly cfg: Pick<HpcWrapConfig, 'workDir' | 'homes'>) {}

  get workDir(): string {
    return this.cfg.workDir;
  }
  get usersDir(): string {
    return join(this.cfg.workDir, 'users');
  }
  get jobsDir(): string {
    return join(this.cfg.workDir, 'jobs');
  }
  get forkDir(): string {
    return join(this.cfg.workDir, 'fork');
  }

  userDir(user: string): string {
    return join(this.usersDir, escapeName(user));
  }

  /** The per-user home, or null when homes.create is off. */
  homeDir(user: string): string | null {
    if (!this.cfg.homes.create) return null;
    return join(this.cfg.homes.root ?? join(this.cfg.workDir, 'homes'), escapeName(user));
  }

  session(user: string, sessionId: string): SessionPaths {
    const userDir = this.userDir(user);
    return sessionPaths(userDir, join(userDir, 'sessions', sessionId));
  }

  jobIndexFile(jobId: string): string {
    return join(this.jobsDir, `${validateJobId(jobId)}.json`);
  }

  /** True when `p` lies inside workDir (a guard for paths read back from files). */
  contains(p: string): boolean {
    const rel = relative(this.cfg.workDir, resolve(p));
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  }
}

export function sessionPaths(userDir: string, runDir: string): SessionPaths {
  const spoolDir = join(runDir, 'spool');
  return {
    userDir,
    runDir,
    spoolDir,
    secretsFile: join(spoolDir, 'secrets.json'),
    jobFile: join(spoolDir, 'job.json'),
    jobScript: join(runDir, 'job.sh'),
    jobIdFile: join(runDir, 'jobid'),
    lockFile: join(runDir, 'submit.lock'),
    statusFile: join(runDir, 'status.json'),
    exitFile: join(runDir, 'exit.json'),
    outputLog: join(runDir, 'output.log'),
    cancelledFile: join(runDir, 'cancelled.json'),
  };
}

/** The file names inside a run dir, for code that only knows the run dir (start-env, jobstate). */
export function runDirPaths(runDir: string): SessionPaths {
  return sessionPaths(resolve(runDir, '..', '..'), runDir);
}

/**
 * Creates `dir` (and missing parents, with `parentMode`) and, when `enforce`, forces
 * `mode` on it even if it existed (umask or an older version may have made it wider).
 */
export function ensureDir(dir: string, mode: number, { enforce = true, parentMode = 0o711 } = {}): void {
  let existed = true;
  try {
    existed = statSync(dir).isDirectory();
    if (!existed) throw new Error(`${dir} exists and is not a directory`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    existed = false;
  }
  if (!existed) {
    mkdirSync(resolve(dir, '..'), { recursive: true, mode: parentMode });
    try {
      mkdirSync(dir, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  if (enforce || !existed) chmodSync(dir, mode);
}

/** The scheduler's job name for a user's server: the prefix and the escaped name, never cut (cutting would merge users). */
export function jobNameFor(prefix: string, user: string): string {
  return `${prefix}-${escapeName(user)}`;
}
