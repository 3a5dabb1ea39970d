// The gateway's routes on disk (SQLite, WAL, 0600 in a 0700 directory): labels, owners,
// the notebook tokens and the hashes of one-time tokens and session cookies. Every change
// is committed before the gateway answers, so a restart keeps every link and cookie.
import Database from 'better-sqlite3';
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RouteRecord } from './route.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS routes (
  label TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  secret_hash TEXT NOT NULL UNIQUE,
  jupyter_token TEXT NOT NULL,
  token_hash TEXT,
  job_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  tunnel_port INTEGER,
  tunnel_public_key TEXT
);
CREATE TABLE IF NOT EXISTS cookies (
  cookie_hash TEXT PRIMARY KEY,
  label TEXT NOT NULL REFERENCES routes(label) ON DELETE CASCADE,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cookies_label ON cookies(label);
`;

export class RouteStore {
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(file: string) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    chmodSync(dirname(file), 0o700);
    this.db = new Database(file);
    chmodSync(file, 0o600);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    // A database from before backend: tunnel existed: add its columns.
    const columns = new Set((this.db.prepare('PRAGMA table_info(routes)').all() as { name: string }[]).map((c) => c.name));
    if (!columns.has('tunnel_port')) this.db.prepare('ALTER TABLE routes ADD COLUMN tunnel_port INTEGER').run();
    if (!columns.has('tunnel_public_key')) this.db.prepare('ALTER TABLE routes ADD COLUMN tunnel_public_key TEXT').run();
    this.stmts = {
      insert: this.db.prepare(
        'INSERT INTO routes (label, owner, secret_hash, jupyter_token, token_hash, job_id, created_at, tunnel_port, tunnel_public_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      setTunnel: this.db.prepare('UPDATE routes SET tunnel_port = ?, tunnel_public_key = ? WHERE label = ?'),
      setToken: this.db.prepare('UPDATE routes SET token_hash = ? WHERE label = ?'),
      setJob: this.db.prepare('UPDATE routes SET job_id = ? WHERE label = ?'),
      addCookie: this.db.prepare('INSERT INTO cookies (cookie_hash, label, created_at) VALUES (?, ?, ?)'),
      remove: this.db.prepare('DELETE FROM routes WHERE label = ?'),
      routes: this.db.prepare('SELECT * FROM routes'),
      cookies: this.db.prepare('SELECT cookie_hash, label FROM cookies'),
    };
  }

  insert(r: RouteRecord): void {
    this.stmts.insert.run(r.label, r.owner, r.secretHash, r.jupyterToken, r.tokenHash, r.jobId, r.createdAt, r.tunnelPort, r.tunnelPublicKey);
  }

  setTunnel(label: string, port: number | null, publicKey: string | null): void {
    this.stmts.setTunnel.run(port, publicKey, label);
  }

  setToken(label: string, tokenHash: string | null): void {
    this.stmts.setToken.run(tokenHash, label);
  }

  /** Redeems: the one-time token is gone and the cookie exists, in one transaction. */
  redeem(label: string, cookieHash: string): void {
    this.db.transaction(() => {
      this.stmts.setToken.run(null, label);
      this.stmts.addCookie.run(cookieHash, label, new Date().toISOString());
    })();
  }

  setJob(label: string, jobId: string): void {
    this.stmts.setJob.run(jobId, label);
  }

  remove(label: string): void {
    this.stmts.remove.run(label);
  }

  all(): RouteRecord[] {
    const cookies = new Map<string, string[]>();
    for (const c of this.stmts.cookies.all() as { cookie_hash: string; label: string }[]) {
      const list = cookies.get(c.label) ?? [];
      list.push(c.cookie_hash);
      cookies.set(c.label, list);
    }
    return (this.stmts.routes.all() as Record<string, string | null>[]).map((r) => ({
      tunnelPort: r.tunnel_port === null || r.tunnel_port === undefined ? null : Number(r.tunnel_port),
      tunnelPublicKey: r.tunnel_public_key ?? null,
      label: r.label!,
      owner: r.owner!,
      secretHash: r.secret_hash!,
      jupyterToken: r.jupyter_token!,
      tokenHash: r.token_hash ?? null,
      cookieHashes: cookies.get(r.label!) ?? [],
      jobId: r.job_id!,
      createdAt: r.created_at!,
    }));
  }

  close(): void {
    this.db.close();
  }
}
