// The fork "scheduler": the embedded default and a laptop mode. NOT a batch system: it
// runs each job script at once as a detached local process under a small supervisor
// (`hpc-wrap fork-run`) that records pid, start time and exit status under
// <workDir>/fork/fork-<n>/. Resources are ignored; nothing queues.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WrapError } from '../../errors.js';
import { isRecord, readJsonOrNull, writeFileAtomic, writeJsonAtomic } from '../../json-files.js';
import { ensureDir } from '../../layout.js';
import { groupMembers, isSameProcess } from '../process-identity.js';
import { emptyStatus, type JobSubmission, type MarkedJob, type MarkedJobs, type QueryResult, type SchedulerAdapter, type SchedulerJobStatus } from '../types.js';

const FORK_ID = /^fork-(\d{1,12})$/;
const CANCEL_GRACE_MS = 5000;
const SUPERVISOR_START_MS = 10_000;

export interface ForkJobFiles {
  dir: string;
  supervisor: string;
  exit: string;
  cancelled: string;
  /** The submission's marker (JobSubmission.marker), written by the submit before the supervisor is started. */
  marker: string;
}

export function forkJobFiles(forkDir: string, id: string): ForkJobFiles {
  const dir = join(forkDir, id);
  return { dir, supervisor: join(dir, 'supervisor.json'), exit: join(dir, 'exit.json'), cancelled: join(dir, 'cancelled'), marker: join(dir, 'marker') };
}

export interface SupervisorRecord {
  pid: number;
  startTime: string | null;
  startedAt: string;
}

export interface ForkExitRecord {
  exitCode: number | null;
  signal: string | null;
  endedAt: string;
  error?: string;
}

function readSupervisor(file: string): SupervisorRecord | null {
  const v = readJsonOrNull(file);
  if (!isRecord(v) || typeof v.pid !== 'number') return null;
  return { pid: v.pid, startTime: typeof v.startTime === 'string' ? v.startTime : null, startedAt: String(v.startedAt ?? '') };
}

function readExit(file: string): ForkExitRecord | null {
  const v = readJsonOrNull(file);
  if (!isRecord(v)) return null;
  return {
    exitCode: typeof v.exitCode === 'number' ? v.exitCode : null,
    signal: typeof v.signal === 'string' ? v.signal : null,
    endedAt: String(v.endedAt ?? ''),
  };
}

export class ForkAdapter implements SchedulerAdapter {
  readonly name = 'fork';
  /** Submitting is starting a local supervisor (SUPERVISOR_START_MS) plus some slack. */
  readonly timeoutMs = 30_000;
  /** A fork job runs on this machine with whatever GPUs it has: only the common variables tell. */
  readonly gpuVariables = ['CUDA_VISIBLE_DEVICES', 'ROCR_VISIBLE_DEVICES'];
  /** Set by the supervisor (fork-supervisor.ts), as a batch system would. */
  readonly jobIdVariable = 'HPC_WRAP_JOB_ID';

  constructor(
    private readonly forkDir: string,
    /** argv that runs this hpc-wrap (the supervisor is `<self> fork-run ...`). */
    private readonly self: string[],
  ) {}

  private allocate(): string {
    ensureDir(this.forkDir, 0o700);
    const hintFile = join(this.forkDir, 'next-id');
    let n = 1;
    try {
      n = Math.max(1, Number.parseInt(readFileSync(hintFile, 'utf8'), 10) || 1);
    } catch {
      /* first job */
    }
    // mkdir is atomic: concurrent submits never get the same number.
    for (;; n++) {
      try {
        mkdirSync(join(this.forkDir, `fork-${n}`), { mode: 0o700 });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    try {
      writeFileAtomic(hintFile, `${n + 1}\n`);
    } catch {
      /* only a hint */
    }
    return `fork-${n}`;
  }

  async submit(job: JobSubmission): Promise<{ jobId: string }> {
    const id = this.allocate();
    const files = forkJobFiles(this.forkDir, id);
    const [cmd, ...args] = this.self;
    const argv = [...args, 'fork-run', '--job-dir', files.dir, '--script', job.scriptPath, '--output', job.outputPath, '--marker', job.marker];
    if (job.chdir) argv.push('--chdir', job.chdir);
    // The marker is written before the supervisor can exist, so a retry after a submit killed
    // at any point finds every supervisor this submit may have started (findMarked waits
    // for one that is still starting, and abandons one that never did).
    writeFileAtomic(files.marker, `${job.marker}\n`);
    const child = spawn(cmd!, argv, { detached: true, stdio: 'ignore', env: { ...process.env, ...job.env } });
    let early: string | null = null;
    child.once('error', (err) => (early = `cannot start the fork supervisor: ${err.message}`));
    child.once('exit', (code, signal) => (early ??= `the fork supervisor exited at once (${code ?? signal})`));
    const started = await this.waitForSupervisor(files, Date.now() + SUPERVISOR_START_MS, () => early !== null);
    child.unref();
    if (!started) {
      await this.abandon(id);
      throw new WrapError('scheduler', early ?? `the fork supervisor did not start within ${SUPERVISOR_START_MS / 1000} s`);
    }
    return { jobId: id };
  }

  /** True once the supervisor has recorded itself; false at the deadline or when `gaveUp` says so. */
  private async waitForSupervisor(files: ForkJobFiles, deadline: number, gaveUp: () => boolean = () => false): Promise<boolean> {
    while (!existsSync(files.supervisor) && !gaveUp() && Date.now() < deadline) await sleep(20);
    return existsSync(files.supervisor);
  }

  /**
   * A job whose supervisor did not start in time: marked cancelled, so that a supervisor
   * starting late records the job as cancelled and never runs its script (fork-supervisor.ts);
   * one that recorded itself meanwhile is cancelled like any job.
   */
  private async abandon(id: string): Promise<void> {
    const f = forkJobFiles(this.forkDir, id);
    writeJsonAtomic(f.cancelled, { cancelledAt: new Date().toISOString(), reason: 'the supervisor did not start in time' });
    if (existsSync(f.supervisor)) await this.cancel(id);
  }

  private status(id: string): SchedulerJobStatus | null {
    if (!FORK_ID.test(id)) return null;
    const f = forkJobFiles(this.forkDir, id);
    let created: number;
    try {
      created = statSync(f.dir).mtimeMs;
    } catch {
      return null;
    }
    const cancelled = existsSync(f.cancelled);
    const exit = readExit(f.exit);
    if (exit) {
      const state = cancelled ? 'cancelled' : exit.exitCode === 0 ? 'done' : 'failed';
      return { ...emptyStatus(state), exitCode: exit.exitCode, reason: exit.signal ? `killed by ${exit.signal}` : null };
    }
    const sup = readSupervisor(f.supervisor);
    if (sup && isSameProcess(sup.pid, sup.startTime)) {
      return { ...emptyStatus(cancelled ? 'completing' : 'running'), node: hostname() };
    }
    // cancelled before its supervisor ran (it will not run the script: fork-supervisor.ts)
    if (cancelled) return emptyStatus('cancelled');
    if (sup || Date.now() - created > SUPERVISOR_START_MS) {
      return { ...emptyStatus('failed'), reason: 'the fork supervisor died without recording an exit status' };
    }
    return emptyStatus('pending');
  }

  async query(ids: string[]): Promise<QueryResult> {
    const jobs = new Map<string, SchedulerJobStatus>();
    for (const id of ids) {
      const s = this.status(id);
      if (s) jobs.set(id, s);
    }
    return { reachable: true, error: null, jobs };
  }

  async findMarked(prefix: string): Promise<MarkedJobs> {
    const jobs: MarkedJob[] = [];
    let names: string[] = [];
    try {
      names = readdirSync(this.forkDir).filter((n) => FORK_ID.test(n));
    } catch {
      /* no job yet */
    }
    for (const id of names) {
      let marker: string;
      try {
        marker = readFileSync(forkJobFiles(this.forkDir, id).marker, 'utf8').trim();
      } catch {
        continue;
      }
      if (!marker.startsWith(prefix)) continue;
      let st = this.status(id);
      if (st?.state === 'pending') {
        // marked but its supervisor not recorded yet: still starting, or its submit was killed
        // before the start. Wait for it rather than let the caller submit a second job.
        const f = forkJobFiles(this.forkDir, id);
        const started = await this.waitForSupervisor(f, statSync(f.dir).mtimeMs + SUPERVISOR_START_MS);
        if (!started) await this.abandon(id);
        st = this.status(id);
      }
      if (!st || st.state === 'done' || st.state === 'failed' || st.state === 'cancelled') continue;
      jobs.push({ jobId: id, marker, state: st.state, user: userInfo().username });
    }
    return { reachable: true, error: null, jobs };
  }

  async cancel(id: string): Promise<void> {
    if (!FORK_ID.test(id)) return;
    const f = forkJobFiles(this.forkDir, id);
    if (!existsSync(f.dir)) return;
    writeJsonAtomic(f.cancelled, { cancelledAt: new Date().toISOString() });
    const sup = readSupervisor(f.supervisor);
    if (!sup || !isSameProcess(sup.pid, sup.startTime)) return;
    // Like a batch system: SIGTERM to every process of the job, SIGKILL after a grace period.
    signalGroup(sup.pid, 'SIGTERM');
    const deadline = Date.now() + CANCEL_GRACE_MS;
    while (groupMembers(sup.pid).length > 0 && Date.now() < deadline) await sleep(50);
    if (groupMembers(sup.pid).length > 0) signalGroup(sup.pid, 'SIGKILL');
  }

  describe() {
    return {
      name: 'fork',
      batchSystem: false,
      summary:
        'fork: not a batch system. Each job runs at once as a detached process on this machine; resources, queues and limits are ignored.',
    };
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* already gone */
  }
}
