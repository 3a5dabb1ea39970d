// The application log (JSON lines, see app-log.ts) for people: one line per entry with
// time, level, command, event and message first, then the other fields as key=value;
// and the filters by user and job id. An entry names a user, a session or a job, so a
// user's entries are those naming the user, one of the user's sessions, or one of the
// user's jobs (jobs/<id>.json says whose a job is).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isSessionId } from '../../contract/names.js';
import { isRecord } from '../json-files.js';
import type { Layout } from '../layout.js';

export type LogEntry = Record<string, unknown>;

export function parseEntry(line: string): LogEntry | null {
  if (!line.startsWith('{')) return null;
  try {
    const v: unknown = JSON.parse(line);
    return isRecord(v) ? v : null;
  } catch {
    return null;
  }
}

const FIRST = ['time', 'level', 'command', 'event', 'message', 'pid'];

function show(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/** "2026-01-05T14:03:22.120Z INFO  startjob  startjob.submitted: message  user=alice jobId=123" */
export function formatEntry(e: LogEntry): string {
  const level = String(e.level ?? '').toUpperCase().padEnd(5);
  const command = String(e.command ?? '').replace(/^hpc-wrap /, '');
  const message = typeof e.message === 'string' ? `: ${e.message}` : '';
  const rest = Object.entries(e)
    .filter(([k, v]) => !FIRST.includes(k) && v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${show(v)}`);
  return [`${String(e.time ?? '')} ${level} ${command}  ${String(e.event ?? '')}${message}`, ...rest].join('  ');
}

/** A line as printed: formatted when it is an entry, as it is otherwise. */
export function formatLine(line: string): string {
  const e = parseEntry(line);
  return e ? formatEntry(e) : line;
}

interface JobIndex {
  sessionId: string | null;
  user: string | null;
}

export class EntryFilter {
  private readonly jobs = new Map<string, JobIndex | null>();

  constructor(
    private readonly layout: Layout,
    private readonly user: string | null,
    private readonly jobId: string | null,
  ) {}

  private job(id: string): JobIndex | null {
    if (!this.jobs.has(id)) {
      let found: { user: string; sessionId: string } | undefined;
      try {
        found = this.layout.findRunDirs([id]).get(id);
      } catch {
        /* an invalid id */
      }
      this.jobs.set(id, found ? { sessionId: found.sessionId, user: found.user } : null);
    }
    return this.jobs.get(id)!;
  }

  private ofUser(e: LogEntry, user: string): boolean {
    if (e.user === user) return true;
    if (isSessionId(e.sessionId) && existsSync(join(this.layout.userDir(user), 'sessions', e.sessionId))) return true;
    return typeof e.jobId === 'string' && this.job(e.jobId)?.user === user;
  }

  private ofJob(e: LogEntry, id: string): boolean {
    if (e.jobId === id || (Array.isArray(e.jobs) && e.jobs.includes(id))) return true;
    const session = this.job(id)?.sessionId;
    return session !== null && session !== undefined && e.sessionId === session;
  }

  /** Lines that are not entries pass only when nothing is filtered. */
  keep(line: string): boolean {
    if (this.user === null && this.jobId === null) return true;
    const e = parseEntry(line);
    if (!e) return false;
    return (this.user === null || this.ofUser(e, this.user)) && (this.jobId === null || this.ofJob(e, this.jobId));
  }
}
