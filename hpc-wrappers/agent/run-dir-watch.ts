// The agent's eye on the run dirs of the bridge's live sessions: when start-env writes
// status.json (the job started, the server listens) or exit.json (it ended), the bridge
// hears it at once instead of at its next status tick. fs.watch on each run dir, and a
// slower scan of all of them as the safety net (NFS and other file systems where inotify
// sees nothing that another node wrote; run dirs that do not exist yet).
import { watch, type FSWatcher } from 'node:fs';
import type { EventFrame } from '../../contract/agent.js';
import { readExitRecord, readServerStatus } from '../run-dir-files.js';

/** Beyond this many sessions only the scan runs (inotify watches are a per-user limit). */
const MAX_WATCHES = 2000;

interface Watched {
  runDir: string;
  /** What the run dir said last time (phase|exited); null = not read yet. */
  seen: string | null;
  watcher: FSWatcher | null;
  timer: NodeJS.Timeout | null;
}

export interface RunDirWatchOptions {
  /** The run dir of a session (from the layout, by names alone), or null when the names are not valid. */
  runDirOf(user: string, sessionId: string): string | null;
  emit(event: EventFrame): void;
  /** The safety-net scan of every watched run dir. */
  scanMs: number;
}

export class RunDirWatch {
  private readonly sessions = new Map<string, Watched>();
  private readonly scanTimer: NodeJS.Timeout;

  constructor(private readonly opts: RunDirWatchOptions) {
    this.scanTimer = setInterval(() => this.scan(), opts.scanMs);
    this.scanTimer.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Replaces the watched set. A session seen for the first time reports what its run dir already says. */
  set(sessions: ReadonlyArray<{ sessionId: string; user: string }>): number {
    const wanted = new Map<string, string>();
    for (const s of sessions) {
      const runDir = this.opts.runDirOf(s.user, s.sessionId);
      if (runDir) wanted.set(s.sessionId, runDir);
    }
    for (const [id, w] of this.sessions) {
      if (wanted.get(id) !== w.runDir) this.drop(id, w);
    }
    for (const [id, runDir] of wanted) {
      if (this.sessions.has(id)) continue;
      const w: Watched = { runDir, seen: null, watcher: null, timer: null };
      this.sessions.set(id, w);
      this.attach(id, w);
      this.check(id, w);
    }
    return this.sessions.size;
  }

  close(): void {
    clearInterval(this.scanTimer);
    for (const [id, w] of this.sessions) this.drop(id, w);
  }

  private attach(id: string, w: Watched): void {
    if (w.watcher || this.sessions.size > MAX_WATCHES) return;
    try {
      w.watcher = watch(w.runDir, { persistent: false }, () => this.soon(id, w));
      w.watcher.on('error', () => {
        w.watcher?.close();
        w.watcher = null;
      });
    } catch {
      w.watcher = null; // not there yet, or not watchable: the scan covers it
    }
  }

  /** Several writes come in a burst (temp file, rename): read once after it. */
  private soon(id: string, w: Watched): void {
    if (w.timer) return;
    w.timer = setTimeout(() => {
      w.timer = null;
      if (this.sessions.get(id) === w) this.check(id, w);
    }, 20);
    w.timer.unref();
  }

  private scan(): void {
    for (const [id, w] of this.sessions) {
      this.attach(id, w);
      this.check(id, w);
    }
  }

  private check(id: string, w: Watched): void {
    const status = readServerStatus(w.runDir);
    const exited = readExitRecord(w.runDir) !== null;
    const phase = status?.phase ?? null;
    const sig = `${phase}|${exited}`;
    const first = w.seen === null;
    if (sig === w.seen) return;
    w.seen = sig;
    // nothing written yet: nothing to tell (the session is queued, or its job not started)
    if (first && phase === null && !exited) return;
    this.opts.emit({ type: 'event', event: 'session', sessionId: id, phase, exited });
  }

  private drop(id: string, w: Watched): void {
    w.watcher?.close();
    if (w.timer) clearTimeout(w.timer);
    this.sessions.delete(id);
  }
}
