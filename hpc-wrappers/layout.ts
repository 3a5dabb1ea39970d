// Where things live under workDir (docs/contracts.md §5, docs/identity.md) and how the
// directories are made. The one owner of per-user paths: every per-user name goes through
// escapeName here. Per-user directories must belong to the account using them (a
// directory another account made first is refused, never used), and their mode depends on
// the identity mode: 0700 when every job runs as the service account; 2750 with the
// service group in per-user mode, so that the service account's one status call can read
// each job's status and output while other students cannot.
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, isAbsolute } from 'node:path';
import type { HpcWrapConfig } from '../config/schema.js';
import { escapeName, isSessionId, unescapeName, validateJobId } from '../contract/names.js';

export interface SessionPaths {
  userDir: string;
  runDir: string;
  spoolDir: string;
  secretsFile: string;
  jobFile: string;
  jobScript: string;
  jobIdFile: string;
  lockFile: string;
  /** Written right before the scheduler is asked: a later attempt then looks for the job by its marker. */
  attemptFile: string;
  statusFile: string;
  exitFile: string;
  outputLog: string;
  cancelledFile: string;
}

/** Mode of files the service account reads in per-user mode (status.json, jobid, …); the directory decides who gets in. */
export const SHARED_FILE_MODE = 0o640;

export class Layout {
  constructor(private readonly cfg: Pick<HpcWrapConfig, 'workDir' | 'homes'> & Partial<Pick<HpcWrapConfig, 'identity'>>) {}

  get workDir(): string {
    return this.cfg.workDir;
  }
  get usersDir(): string {
    return join(this.cfg.workDir, 'users');
  }
  get forkDir(): string {
    return join(this.cfg.workDir, 'fork');
  }
  get perUser(): boolean {
    return this.cfg.identity?.mode === 'per-user';
  }
  /**
   * Makes (or checks) a user's directory, its sessions dir or a run dir. Shared mode: 0700,
   * owned by this account. Per-user mode: made with umask 027 inside the setgid users/
   * tree, so it inherits the service group and the setgid bit (2750). It is never
   * chmod-ed there: the kernel drops the setgid bit when an account outside the group
   * changes a mode, which would cut the service account off. A wrong mode is reported.
   */
  makeUserDir(dir: string): void {
    if (!this.perUser) return ensureDir(dir, 0o700, { ownedBySelf: true });
    const old = process.umask(0o027);
    try {
      mkdirSync(dir, { mode: 0o750 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      process.umask(old);
    }
    const st = statSync(dir);
    if (process.geteuid && st.uid !== process.geteuid()) throw new ForeignOwnerError(dir, st.uid);
    const want = statSync(this.usersDir).gid;
    if ((st.mode & 0o7777) !== 0o2750 || st.gid !== want) {
      throw new Error(
        `${dir} has mode ${(st.mode & 0o7777).toString(8)} and group ${st.gid}; per-user identity needs mode 2750 and the service group (gid ${want}), inherited from ${this.usersDir}: run \`hpc-wrap setup\` as the service account, then move this directory away`,
      );
    }
  }

  userDir(user: string): string {
    return join(this.usersDir, escapeName(user));
  }

  homesRoot(): string | null {
    if (!this.cfg.homes.create) return null;
    return this.cfg.homes.root ?? join(this.cfg.workDir, 'homes');
  }

  /** The per-user home, or null when homes.create is off. */
  homeDir(user: string): string | null {
    const root = this.homesRoot();
    return root === null ? null : join(root, escapeName(user));
  }

  session(user: string, sessionId: string): SessionPaths {
    const userDir = this.userDir(user);
    return sessionPaths(userDir, join(userDir, 'sessions', sessionId));
  }

  /**
   * The run dir of a job, found by its `jobid` file (for operators' commands that only
   * know a job id; the bridge always names user and session). One pass over users/.
   */
  findRunDirs(jobIds: readonly string[]): Map<string, { runDir: string; user: string; sessionId: string }> {
    const wanted = new Set(jobIds.map((id) => validateJobId(id)));
    const found = new Map<string, { runDir: string; user: string; sessionId: string }>();
    for (const escaped of listDir(this.usersDir)) {
      const sessions = join(this.usersDir, escaped, 'sessions');
      for (const sessionId of listDir(sessions)) {
        if (!isSessionId(sessionId)) continue;
        const runDir = join(sessions, sessionId);
        let id: string;
        try {
          id = readFileSync(join(runDir, 'jobid'), 'utf8').trim();
        } catch {
          continue;
        }
        if (!wanted.has(id)) continue;
        let user: string;
        try {
          user = unescapeName(escaped);
        } catch {
          continue;
        }
        found.set(id, { runDir, user, sessionId });
      }
    }
    return found;
  }

  /** True when `p` lies inside workDir (a guard for paths read back from files). */
  contains(p: string): boolean {
    const rel = relative(this.cfg.workDir, resolve(p));
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
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
    attemptFile: join(runDir, 'submit.attempt'),
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

export class ForeignOwnerError extends Error {
  constructor(
    readonly path: string,
    readonly uid: number,
  ) {
    super(
      `${path} belongs to another account (uid ${uid}), not to this one (uid ${process.geteuid?.() ?? '?'}); it is not used. An operator must check and remove it (it may have been made to capture this user's files)`,
    );
    this.name = 'ForeignOwnerError';
  }
}

/**
 * Creates `dir` (and missing parents, with `parentMode`) and, when `enforce`, forces
 * `mode` on it even if it existed (umask or an older version may have made it wider).
 * With `ownedBy: 'self'` an existing directory must belong to this process's account.
 */
export function ensureDir(dir: string, mode: number, { enforce = true, parentMode = 0o711, ownedBySelf = false } = {}): void {
  let existed = true;
  try {
    const st = statSync(dir);
    existed = st.isDirectory();
    if (!existed) throw new Error(`${dir} exists and is not a directory`);
    if (ownedBySelf && process.geteuid && st.uid !== process.geteuid()) throw new ForeignOwnerError(dir, st.uid);
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
      if (ownedBySelf) return ensureDir(dir, mode, { enforce, parentMode, ownedBySelf });
    }
  }
  if (enforce || !existed) chmodSync(dir, mode);
}

/** The scheduler's job name for a user's server: the prefix and the escaped name, never cut (cutting would merge users). */
export function jobNameFor(prefix: string, user: string): string {
  return `${prefix}-${escapeName(user)}`;
}

/** The tag a session's job carries in the scheduler (JobSubmission.marker). */
export const MARKER_PREFIX = 'hpc-bridge:';
export function sessionMarker(sessionId: string): string {
  return `${MARKER_PREFIX}${sessionId}`;
}
export function sessionIdOfMarker(marker: string): string | null {
  const id = marker.startsWith(MARKER_PREFIX) ? marker.slice(MARKER_PREFIX.length) : '';
  return isSessionId(id) ? id : null;
}
