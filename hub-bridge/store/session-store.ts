// SQLite (WAL) store of sessions, their events and idempotency keys. Every state change is
// committed before the bridge acts on it, so a SIGKILL loses nothing that mattered.
// It also keeps the live sessions counted by state and profile (live-counts.ts) for
// GET /metrics, moved by each insert and update it commits.
import Database from 'better-sqlite3';
import { dirname } from 'node:path';
import { encodeCursor, type Page } from './pages.js';
import { toJobRecord, toSession, type JobRecord, type Row } from './rows.js';
import { ensurePrivateDir, ensurePrivateFile } from './private-files.js';
import { LiveCounts, type LiveCount } from './live-counts.js';
import type { EventKind, Session, SessionEvent, SessionState } from '../sessions/types.js';

export type { JobRecord } from './rows.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  server_name TEXT NOT NULL,
  profile TEXT NOT NULL,
  state TEXT NOT NULL,
  job_id TEXT,
  job_state TEXT,
  node TEXT,
  host TEXT,
  port INTEGER,
  service_prefix TEXT NOT NULL,
  queue_position INTEGER,
  estimated_start TEXT,
  reason TEXT,
  message TEXT,
  scheduler_reachable INTEGER NOT NULL DEFAULT 1,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  submit_doc TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_state ON sessions(state);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user, server_name);
CREATE INDEX IF NOT EXISTS sessions_created ON sessions(created_at, id);
CREATE INDEX IF NOT EXISTS sessions_user_created ON sessions(user, created_at, id);
CREATE INDEX IF NOT EXISTS sessions_state_created ON sessions(state, created_at, id);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT NOT NULL,
  time TEXT NOT NULL,
  kind TEXT NOT NULL,
  message TEXT NOT NULL,
  progress INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_session ON events(session_id, seq);
CREATE TABLE IF NOT EXISTS jobs (
  job_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  user TEXT NOT NULL,
  profile TEXT NOT NULL,
  submitted_at TEXT NOT NULL,
  started_at TEXT,
  ended_at TEXT,
  node TEXT,
  final_state TEXT,
  exit_code INTEGER,
  PRIMARY KEY (job_id, session_id)
);
CREATE INDEX IF NOT EXISTS jobs_user ON jobs(user, submitted_at);
CREATE INDEX IF NOT EXISTS jobs_submitted ON jobs(submitted_at, job_id, session_id);
CREATE TABLE IF NOT EXISTS idempotency (
  key TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  created_at TEXT NOT NULL
);
`;

const COLUMN: Record<keyof Omit<Session, 'id' | 'number' | 'createdAt'>, string> = {
  user: 'user',
  serverName: 'server_name',
  profile: 'profile',
  state: 'state',
  jobId: 'job_id',
  jobState: 'job_state',
  node: 'node',
  host: 'host',
  port: 'port',
  servicePrefix: 'service_prefix',
  queuePosition: 'queue_position',
  estimatedStart: 'estimated_start',
  reason: 'reason',
  message: 'message',
  schedulerReachable: 'scheduler_reachable',
  cancelRequested: 'cancel_requested',
  tunnelPort: 'tunnel_port',
  tunnelPublicKey: 'tunnel_public_key',
  tunnelExpiresAt: 'tunnel_expires_at',
  startedAt: 'started_at',
  timeLimitSeconds: 'time_limit_seconds',
  stoppedBy: 'stopped_by',
  tunnelState: 'tunnel_state',
  tunnelSince: 'tunnel_since',
  updatedAt: 'updated_at',
};


export type SessionPatch = Partial<Omit<Session, 'id' | 'number' | 'createdAt' | 'updatedAt'>>;

export interface NewSession {
  id: string;
  user: string;
  serverName: string;
  profile: string;
  servicePrefix: string;
  submitDoc: string;
}

export class SessionStore {
  /** Session rows written by update() since the store opened (benchmarks: a poll that changes nothing writes none). */
  writes = 0;
  private readonly db: Database.Database;
  private readonly stmts;
  private readonly counts: LiveCounts;

  constructor(file: string) {
    if (file !== ':memory:') {
      ensurePrivateDir(dirname(file), 'the state directory');
      // Made 0600 before SQLite opens it: the -wal and -shm files take the database's mode.
      ensurePrivateFile(file, 'the state database', { create: true });
      for (const derived of [`${file}-wal`, `${file}-shm`, `${file}-journal`]) ensurePrivateFile(derived, 'a file of the state database');
    }
    this.db = new Database(file);
    // Deleted content is overwritten, so nothing removed from a row lingers in free pages.
    this.db.pragma('secure_delete = ON');
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.migrate();
    this.stmts = {
      get: this.db.prepare('SELECT * FROM sessions WHERE id = ?'),
      live: this.db.prepare("SELECT * FROM sessions WHERE state NOT IN ('stopped','failed') ORDER BY created_at"),
      insert: this.db.prepare(
        `INSERT INTO sessions (id,number,user,server_name,profile,state,service_prefix,submit_doc,created_at,updated_at)
         VALUES (@id,(SELECT COALESCE(MAX(number), 0) + 1 FROM sessions),@user,@serverName,@profile,'submitting',@servicePrefix,@submitDoc,@now,@now)`,
      ),
      byNumber: this.db.prepare('SELECT * FROM sessions WHERE number = ?'),
      submitDoc: this.db.prepare('SELECT submit_doc FROM sessions WHERE id = ?'),
      clearSubmitDoc: this.db.prepare('UPDATE sessions SET submit_doc = NULL WHERE id = ?'),
      addEvent: this.db.prepare('INSERT INTO events (session_id,time,kind,message,progress) VALUES (?,?,?,?,?)'),
      events: this.db.prepare('SELECT * FROM events WHERE session_id = ? AND seq > ? ORDER BY seq'),
      lastEvent: this.db.prepare('SELECT * FROM events WHERE session_id = ? ORDER BY seq DESC LIMIT 1'),
      idemGet: this.db.prepare('SELECT session_id, fingerprint FROM idempotency WHERE key = ?'),
      idemPut: this.db.prepare('INSERT INTO idempotency (key,session_id,fingerprint,created_at) VALUES (?,?,?,?)'),
    };
    this.counts = new LiveCounts(
      this.db.prepare("SELECT state, profile, COUNT(*) AS n FROM sessions WHERE state NOT IN ('stopped','failed') GROUP BY state, profile").all() as LiveCount[],
    );
  }

  /** Columns added after the first release; added in place to an older database. */
  private migrate(): void {
    const have = new Set((this.db.prepare('PRAGMA table_info(sessions)').all() as { name: string }[]).map((c) => c.name));
    const added: Array<[string, string]> = [
      ['tunnel_port', 'INTEGER'],
      ['tunnel_public_key', 'TEXT'],
      ['tunnel_expires_at', 'TEXT'],
      ['number', 'INTEGER'],
      ['started_at', 'TEXT'],
      ['time_limit_seconds', 'INTEGER'],
      ['stopped_by', 'TEXT'],
      ['tunnel_state', 'TEXT'],
      ['tunnel_since', 'TEXT'],
    ];
    for (const [name, type] of added) if (!have.has(name)) this.db.prepare(`ALTER TABLE sessions ADD COLUMN ${name} ${type}`).run();
    this.db.prepare('CREATE UNIQUE INDEX IF NOT EXISTS sessions_number ON sessions(number)').run();
    this.scrubOldSecrets();
  }

  /**
   * Databases of earlier versions kept the whole startjob document (hub token, WebDAV
   * password, tunnel key) in submit_doc. Remove those fields, then rewrite the file and
   * empty the WAL, so that no copy survives in free pages.
   */
  private scrubOldSecrets(): void {
    const rows = this.db.prepare("SELECT id, submit_doc FROM sessions WHERE submit_doc IS NOT NULL AND (submit_doc LIKE '%\"env\"%' OR submit_doc LIKE '%\"webdav\"%' OR submit_doc LIKE '%PRIVATE KEY%')").all() as { id: string; submit_doc: string }[];
    if (rows.length === 0) return;
    const put = this.db.prepare('UPDATE sessions SET submit_doc = ? WHERE id = ?');
    this.db.transaction(() => {
      for (const r of rows) {
        let plan: Record<string, unknown> | null = null;
        try {
          const { env: _e, webdav: _w, tunnel, ...rest } = JSON.parse(r.submit_doc) as Record<string, unknown>;
          const t = tunnel && typeof tunnel === 'object' ? (({ privateKey: _k, ...spec }) => spec)(tunnel as Record<string, unknown>) : null;
          plan = { ...rest, tunnel: t };
        } catch {
          plan = null;
        }
        put.run(plan ? JSON.stringify(plan) : null, r.id);
      }
    })();
    this.db.prepare('VACUUM').run();
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  close(): void {
    this.db.close();
  }

  /** The open database, for companion stores that keep their own SQL on these tables (accounting, retention, metrics). */
  get database(): Database.Database {
    return this.db;
  }

  get(id: string): Session | undefined {
    const row = this.stmts.get.get(id) as Row | undefined;
    return row ? toSession(row) : undefined;
  }

  /** A session by its number (the integer id batchspawner's Slurm parser needs). */
  getByNumber(n: number): Session | undefined {
    const row = this.stmts.byNumber.get(n) as Row | undefined;
    return row ? toSession(row) : undefined;
  }

  live(): Session[] {
    return (this.stmts.live.all() as Row[]).map(toSession);
  }

  /** Live sessions by (state, profile), without a query: kept as this store writes (live-counts.ts). */
  liveCounts(): LiveCount[] {
    return this.counts.snapshot();
  }

  list(filter: { user?: string; state?: SessionState; limit?: number } = {}): Session[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.user !== undefined) {
      where.push('user = ?');
      args.push(filter.user);
    }
    if (filter.state !== undefined) {
      where.push('state = ?');
      args.push(filter.state);
    }
    const sql = `SELECT * FROM sessions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit ?? 1000) as Row[]).map(toSession);
  }

  /**
   * One page of sessions, newest first, filtered by user and/or states; `next` names the
   * page after it (null: this is the last). Keyset paging: the same cost at any depth.
   */
  page(filter: { user?: string; states?: readonly SessionState[]; limit: number; after?: readonly string[] | null }): Page<Session> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.user !== undefined) {
      where.push('user = ?');
      args.push(filter.user);
    }
    if (filter.states?.length) {
      where.push(`state IN (${filter.states.map(() => '?').join(',')})`);
      args.push(...filter.states);
    }
    if (filter.after) {
      where.push('(created_at < ? OR (created_at = ? AND id < ?))');
      args.push(filter.after[0], filter.after[0], filter.after[1]);
    }
    const sql = `SELECT * FROM sessions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`;
    const rows = (this.cached(sql).all(...args, filter.limit + 1) as Row[]).map(toSession);
    const more = rows.length > filter.limit;
    const items = more ? rows.slice(0, filter.limit) : rows;
    const last = items.at(-1);
    return { items, next: more && last ? encodeCursor([last.createdAt, last.id]) : null };
  }

  /** One page of job records, newest submit first (see page()). */
  jobsPage(filter: { user?: string; limit: number; after?: readonly string[] | null }): Page<JobRecord> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.user !== undefined) {
      where.push('user = ?');
      args.push(filter.user);
    }
    if (filter.after) {
      where.push('(submitted_at < ? OR (submitted_at = ? AND (job_id < ? OR (job_id = ? AND session_id < ?))))');
      args.push(filter.after[0], filter.after[0], filter.after[1], filter.after[1], filter.after[2]);
    }
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY submitted_at DESC, job_id DESC, session_id DESC LIMIT ?`;
    const rows = (this.cached(sql).all(...args, filter.limit + 1) as Row[]).map(toJobRecord);
    const more = rows.length > filter.limit;
    const items = more ? rows.slice(0, filter.limit) : rows;
    const last = items.at(-1);
    return { items, next: more && last ? encodeCursor([last.submittedAt, last.jobId, last.sessionId]) : null };
  }

  private readonly statements = new Map<string, Database.Statement>();
  private cached(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      if (this.statements.size > 256) this.statements.clear();
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  /** Creates a session, binding the idempotency key in the same transaction. */
  create(s: NewSession, idempotency: { key: string; fingerprint: string } | null): Session {
    const now = new Date().toISOString();
    this.db.transaction(() => {
      this.stmts.insert.run({ ...s, now });
      if (idempotency) this.stmts.idemPut.run(idempotency.key, s.id, idempotency.fingerprint, now);
    })();
    const created = this.get(s.id)!;
    this.counts.move(null, created);
    return created;
  }

  findIdempotent(key: string): { sessionId: string; fingerprint: string } | undefined {
    const row = this.stmts.idemGet.get(key) as { session_id: string; fingerprint: string } | undefined;
    return row ? { sessionId: row.session_id, fingerprint: row.fingerprint } : undefined;
  }

  /** Writes only the columns that change (and then updated_at); a patch that changes nothing writes nothing. */
  update(id: string, patch: SessionPatch): Session {
    const cur = this.get(id);
    const entries = Object.entries(patch).filter(([k, v]) => v !== undefined && (!cur || cur[k as keyof Session] !== v));
    if (cur && entries.length === 0) return cur;
    const sets = entries.map(([k]) => `${COLUMN[k as keyof typeof COLUMN]} = ?`);
    const values = entries.map(([, v]) => (typeof v === 'boolean' ? (v ? 1 : 0) : v));
    sets.push('updated_at = ?');
    values.push(new Date().toISOString());
    this.cached(`UPDATE sessions SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
    this.writes++;
    const next = this.get(id)!;
    if (cur && next) this.counts.move(cur, next);
    return next;
  }

  /** One row per batch job: when it was submitted, started and ended (usage accounting). */
  recordJobSubmitted(s: Session, jobId: string): void {
    this.db
      .prepare('INSERT OR IGNORE INTO jobs (job_id, session_id, user, profile, submitted_at) VALUES (?,?,?,?,?)')
      .run(jobId, s.id, s.user, s.profile, new Date().toISOString());
  }

  recordJobStarted(jobId: string, sessionId: string, node: string | null): void {
    this.db.prepare('UPDATE jobs SET started_at = COALESCE(started_at, ?), node = COALESCE(node, ?) WHERE job_id = ? AND session_id = ?').run(new Date().toISOString(), node, jobId, sessionId);
  }

  recordJobEnded(jobId: string, sessionId: string, finalState: string, exitCode: number | null): void {
    this.db
      .prepare('UPDATE jobs SET ended_at = COALESCE(ended_at, ?), final_state = COALESCE(final_state, ?), exit_code = COALESCE(exit_code, ?) WHERE job_id = ? AND session_id = ?')
      .run(new Date().toISOString(), finalState, exitCode, jobId, sessionId);
  }

  jobs(filter: { user?: string; limit?: number } = {}): JobRecord[] {
    const rows = (filter.user !== undefined
      ? this.db.prepare('SELECT * FROM jobs WHERE user = ? ORDER BY submitted_at DESC LIMIT ?').all(filter.user, filter.limit ?? 1000)
      : this.db.prepare('SELECT * FROM jobs ORDER BY submitted_at DESC LIMIT ?').all(filter.limit ?? 1000)) as Row[];
    return rows.map(toJobRecord);
  }

  /** The startjob document (holds secrets); kept only until the job is submitted. */
  submitDoc(id: string): string | null {
    const row = this.stmts.submitDoc.get(id) as { submit_doc: string | null } | undefined;
    return row?.submit_doc ?? null;
  }

  clearSubmitDoc(id: string): void {
    this.stmts.clearSubmitDoc.run(id);
  }

  addEvent(sessionId: string, kind: EventKind, message: string, progress: number): SessionEvent {
    const time = new Date().toISOString();
    const info = this.stmts.addEvent.run(sessionId, time, kind, message, progress);
    return { seq: Number(info.lastInsertRowid), sessionId, time, kind, message, progress };
  }

  events(sessionId: string, after = 0): SessionEvent[] {
    return (this.stmts.events.all(sessionId, after) as Row[]).map((r) => ({
      seq: r.seq as number,
      sessionId: r.session_id as string,
      time: r.time as string,
      kind: r.kind as EventKind,
      message: r.message as string,
      progress: r.progress as number,
    }));
  }

  lastEvent(sessionId: string): SessionEvent | undefined {
    const r = this.stmts.lastEvent.get(sessionId) as Row | undefined;
    return r ? this.events(sessionId, (r.seq as number) - 1)[0] : undefined;
  }
}
