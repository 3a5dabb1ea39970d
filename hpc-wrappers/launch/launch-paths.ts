// Where a user's launches live (docs/launch.md): under their own home, owner-only, so that
// the compute nodes see the same files and no other account can read them.
//
//   <stateDir>/                       0700   (~/.hpc-wrap)
//     hpc-wrap.log                           the user's application log (no secrets)
//     conda-cache/                    0700   --cache tarballs
//     launches/<id>/                  0700
//       launch.json                   0600   resolved options, gateway route (no token)
//       secret.json                   0600   the route secret and the one-time token
//       stopped.json                         `hpc-wrap stop` was asked
//       jobs/<n>/                     0700   one run dir per submission (n = 1, 2, … with --keep-alive)
//         submitted.sh, jobid, submitted.json, spool/, status.json, exit.json, output.log, jupyter/
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { base32 } from '../../contract/launch.js';
import { WrapError } from '../errors.js';
import { ensureDir } from '../layout.js';

export const LAUNCH_ID_RE = /^l[a-z2-7]{8}$/;

export function newLaunchId(): string {
  return `l${base32(randomBytes(5))}`;
}

/** The calling user's name and home, from the password database (not $HOME, which a job may change). */
export function currentUser(): { name: string; home: string; uid: number } {
  const u = userInfo();
  return { name: u.username, home: u.homedir, uid: u.uid };
}

export function expandStateDir(stateDir: string, home: string): string {
  if (stateDir === '~') return home;
  if (stateDir.startsWith('~/')) return join(home, stateDir.slice(2));
  return resolve(stateDir);
}

export class LaunchPaths {
  constructor(readonly stateDir: string) {}

  get launchesDir(): string {
    return join(this.stateDir, 'launches');
  }
  get logFile(): string {
    return join(this.stateDir, 'hpc-wrap.log');
  }
  get condaCacheDir(): string {
    return join(this.stateDir, 'conda-cache');
  }

  launchDir(id: string): string {
    if (!LAUNCH_ID_RE.test(id)) throw new WrapError('invalid', `${JSON.stringify(id)} is not a launch id (l + 8 letters/digits, as \`hpc-wrap list\` shows)`);
    return join(this.launchesDir, id);
  }
  launchFile(id: string): string {
    return join(this.launchDir(id), 'launch.json');
  }
  secretFile(id: string): string {
    return join(this.launchDir(id), 'secret.json');
  }
  stoppedFile(id: string): string {
    return join(this.launchDir(id), 'stopped.json');
  }
  jobsDir(id: string): string {
    return join(this.launchDir(id), 'jobs');
  }
  runDir(id: string, n: number): string {
    return join(this.jobsDir(id), String(n));
  }

  /** Makes <stateDir> and launches/ owner-only (tightened if they existed wider). */
  ensure(): void {
    ensureDir(this.stateDir, 0o700);
    ensureDir(this.launchesDir, 0o700);
  }

  /** Launch ids present, newest first (ids are random: sorted by launch.json time by the caller). */
  ids(): string[] {
    try {
      return readdirSync(this.launchesDir).filter((n) => LAUNCH_ID_RE.test(n));
    } catch {
      return [];
    }
  }

  /** Submission numbers of a launch, ascending. */
  submissions(id: string): number[] {
    try {
      return readdirSync(this.jobsDir(id))
        .filter((n) => /^[1-9]\d{0,3}$/.test(n))
        .map(Number)
        .sort((a, b) => a - b);
    } catch {
      return [];
    }
  }
}

/** The run dir a launch job runs in → its launch dir and submission number (or null: not a launch run dir). */
export function launchOfRunDir(runDir: string): { launchDir: string; id: string; n: number } | null {
  const m = /^(.*)\/(l[a-z2-7]{8})\/jobs\/([1-9]\d{0,3})\/?$/.exec(resolve(runDir));
  if (!m) return null;
  return { launchDir: join(m[1]!, m[2]!), id: m[2]!, n: Number(m[3]) };
}
