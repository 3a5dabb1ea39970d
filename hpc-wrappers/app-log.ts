// The application log: one JSON object per line, appended to logging.file. Callers pass
// only non-secret fields (ids, user names, paths, scheduler messages) — never the hub
// env, never the content of secrets.json.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const MAX_FIELD = 2000;

export type LogFields = Record<string, string | number | boolean | null | undefined | string[]>;

export class AppLog {
  private ready = false;
  private warned = false;
  private mode = 0o600;

  constructor(
    public file: string,
    readonly level: LogLevel = 'info',
    private readonly command = 'hpc-wrap',
  ) {}

  /**
   * Per-user mode: a command running as a student logs into that student's directory
   * (group-readable by the service account there), not into the service account's log.
   */
  retarget(file: string, mode: number): void {
    this.file = file;
    this.mode = mode;
    this.ready = false;
  }

  error(event: string, fields: LogFields = {}): void {
    this.write('error', event, fields);
  }
  warn(event: string, fields: LogFields = {}): void {
    this.write('warn', event, fields);
  }
  info(event: string, fields: LogFields = {}): void {
    this.write('info', event, fields);
  }
  debug(event: string, fields: LogFields = {}): void {
    this.write('debug', event, fields);
  }

  private write(level: LogLevel, event: string, fields: LogFields): void {
    if (RANK[level] > RANK[this.level]) return;
    const entry: Record<string, unknown> = { time: new Date().toISOString(), level, command: this.command, event, pid: process.pid };
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      entry[k] = typeof v === 'string' && v.length > MAX_FIELD ? `${v.slice(0, MAX_FIELD)}…` : v;
    }
    try {
      if (!this.ready) {
        // Parents (often workDir itself) traversable like workDir; the log dir owner-only.
        if (this.mode === 0o600) {
          mkdirSync(dirname(dirname(this.file)), { recursive: true, mode: 0o711 });
          mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
        }
        this.ready = true;
      }
      appendFileSync(this.file, `${JSON.stringify(entry)}\n`, { mode: this.mode });
    } catch (err) {
      // A broken log must not break a spawn; say so once on stderr.
      if (!this.warned) {
        this.warned = true;
        process.stderr.write(`hpc-wrap: cannot write the application log ${this.file}: ${(err as Error).message}\n`);
      }
    }
  }
}
