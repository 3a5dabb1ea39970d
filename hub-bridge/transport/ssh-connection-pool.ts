// A pool of authenticated SSH connections to one login node. Each connection carries at
// most `maxSessionsPerConnection` concurrent exec channels (OpenSSH's MaxSessions,
// default 10); more connections are opened on demand up to `maxConnections`; callers
// beyond that wait in a bounded FIFO queue. Dropped connections are replaced on demand
// with exponential backoff and jitter; idle connections are closed.
import type { Client } from 'ssh2';
import { TransportError } from './types.js';

export interface SshPoolOptions {
  maxConnections: number;
  maxSessionsPerConnection: number;
  maxQueue: number;
  idleMs: number;
  /** Opens and authenticates one connection; rejects with a TransportError that says why. */
  connect(): Promise<Client>;
  /** `user@host:port`, for messages. */
  target: string;
  backoff?: { baseMs: number; maxMs: number };
}

/** One exec slot on one connection, held while a channel is open. */
export interface SshLease {
  readonly client: Client;
  /** The channel is closed: the slot is free again. */
  release(): void;
  /** The server refused to open the channel (it allows fewer sessions, or has not freed one yet). */
  refused(): void;
}

export interface SshPoolStats {
  ready: number;
  connecting: number;
  running: number;
  queued: number;
  /** Connections opened since the pool was made, and lost without us closing them. */
  opened: number;
  dropped: number;
  refusedChannels: number;
}

interface Conn {
  id: number;
  state: 'connecting' | 'ready' | 'closed';
  client: Client | null;
  active: number;
  limit: number;
  limitResetAt: number;
  readyAt: number;
  idleTimer: NodeJS.Timeout | null;
  closingOnPurpose: boolean;
}

interface Waiter {
  resolve(lease: SshLease): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * How long a lowered per-connection limit holds before it is probed again. Refusals also
 * happen at the configured limit: sshd frees a closed session only on its next main-loop
 * pass, so an open that follows a close in the same read is refused ("open failed").
 */
const LIMIT_PROBE_MS = 1000;
/** A connection that drops sooner than this after login counts as a failed attempt (flapping). */
const STABLE_MS = 10_000;

export class SshConnectionPool {
  private readonly conns = new Set<Conn>();
  private readonly queue: Waiter[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private seq = 0;
  private failures = 0;
  private nextAttemptAt = 0;
  private lastError: string | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private counters = { opened: 0, dropped: 0, refusedChannels: 0 };

  constructor(private readonly opts: SshPoolOptions) {}

  /** A free exec slot, waiting (FIFO) until `deadline` (epoch ms). `front` puts a retried request first. */
  acquire(deadline: number, front = false): Promise<SshLease> {
    const timeoutMs = Math.max(0, deadline - Date.now());
    if (this.closed) return Promise.reject(new TransportError(`the SSH transport to ${this.opts.target} is closed`));
    if (this.queue.length === 0) {
      const conn = this.pick();
      if (conn) return Promise.resolve(this.lease(conn));
    }
    if (!front && this.queue.length >= this.opts.maxQueue) {
      return Promise.reject(
        new TransportError(`SSH queue full: ${this.queue.length} commands already wait for ${this.opts.target} (cluster.transport.maxQueue)`),
      );
    }
    return new Promise<SshLease>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          reject(new TransportError(this.waitTimeoutMessage(timeoutMs)));
        }, timeoutMs),
      };
      if (front) this.queue.unshift(waiter);
      else this.queue.push(waiter);
      this.pump();
    });
  }

  stats(): SshPoolStats {
    const list = [...this.conns];
    const count = (state: Conn['state']) => list.filter((c) => c.state === state).length;
    const running = list.reduce((n, c) => n + c.active, 0);
    return { ready: count('ready'), connecting: count('connecting'), running, queued: this.queue.length, ...this.counters };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const w of this.queue.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new TransportError(`the SSH transport to ${this.opts.target} is closed`));
    }
    const closing = [...this.conns].filter((c) => c.client).map((c) => this.endConn(c));
    await Promise.allSettled([...this.pending, ...closing]);
  }

  private waitTimeoutMessage(timeoutMs: number): string {
    const s = this.stats();
    let msg = `no free SSH session to ${this.opts.target} within ${Math.round(timeoutMs)} ms (${s.running} commands running on ${s.ready} connection(s), ${s.queued} more queued)`;
    if (s.ready === 0 && this.lastError) msg += `; last connection attempt: ${this.lastError}`;
    return msg;
  }

  private limitOf(conn: Conn): number {
    if (conn.limit < this.opts.maxSessionsPerConnection && Date.now() >= conn.limitResetAt) {
      conn.limit = this.opts.maxSessionsPerConnection;
    }
    return conn.limit;
  }

  /** The busiest ready connection with a free slot: packing lets the others go idle and close. */
  private pick(): Conn | null {
    let best: Conn | null = null;
    for (const c of this.conns) {
      if (c.state !== 'ready' || c.active >= this.limitOf(c)) continue;
      if (!best || c.active > best.active) best = c;
    }
    return best;
  }

  private lease(conn: Conn): SshLease {
    conn.active++;
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    conn.idleTimer = null;
    let done = false;
    const free = () => {
      if (done) return false;
      done = true;
      conn.active--;
      return true;
    };
    return {
      client: conn.client!,
      release: () => {
        if (!free()) return;
        this.armIdle(conn);
        this.pump();
      },
      refused: () => {
        if (!free()) return;
        this.counters.refusedChannels++;
        conn.limit = Math.min(conn.limit, conn.active);
        conn.limitResetAt = Date.now() + LIMIT_PROBE_MS;
        setTimeout(() => this.pump(), LIMIT_PROBE_MS + 5).unref();
        this.armIdle(conn);
        this.pump();
      },
    };
  }

  private pump(): void {
    if (this.closed) return;
    while (this.queue.length > 0) {
      const conn = this.pick();
      if (!conn) break;
      const w = this.queue.shift()!;
      clearTimeout(w.timer);
      w.resolve(this.lease(conn));
    }
    if (this.queue.length > 0) this.grow();
  }

  /** Opens connections for the queued demand, within maxConnections and the backoff schedule. */
  private grow(): void {
    let { connecting } = this.stats();
    while (this.queue.length > connecting * this.opts.maxSessionsPerConnection && this.conns.size < this.opts.maxConnections) {
      // after a failure, one probing attempt at a time
      if (this.failures > 0 && connecting > 0) return;
      const wait = this.nextAttemptAt - Date.now();
      if (wait > 0) {
        this.retryTimer ??= setTimeout(() => {
          this.retryTimer = null;
          this.pump();
        }, wait).unref();
        return;
      }
      this.open();
      connecting++;
    }
  }

  private backoffMs(failures: number): number {
    const { baseMs, maxMs } = this.opts.backoff ?? { baseMs: 500, maxMs: 30_000 };
    if (failures === 0) return Math.random() * 100;
    const ceiling = Math.min(maxMs, baseMs * 2 ** (failures - 1));
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  private open(): void {
    const conn: Conn = {
      id: ++this.seq, state: 'connecting', client: null, active: 0, limit: this.opts.maxSessionsPerConnection,
      limitResetAt: 0, readyAt: 0, idleTimer: null, closingOnPurpose: false,
    };
    this.conns.add(conn);
    const p = this.opts.connect().then(
      (client) => {
        if (this.closed) {
          client.end();
          this.conns.delete(conn);
          return;
        }
        Object.assign(conn, { client, state: 'ready', readyAt: Date.now() });
        this.failures = 0;
        this.lastError = null;
        this.counters.opened++;
        client.on('error', (err) => void (this.lastError = err.message));
        client.on('close', () => this.onClosed(conn));
        this.armIdle(conn);
        this.pump();
      },
      (err: unknown) => {
        this.conns.delete(conn);
        conn.state = 'closed';
        this.failures++;
        this.lastError = err instanceof Error ? err.message : String(err);
        this.nextAttemptAt = Date.now() + this.backoffMs(this.failures);
        if (![...this.conns].some((c) => c.state !== 'closed')) {
          // nothing else can serve the queue: tell the waiters now, with the reason
          const e = err instanceof TransportError ? err : new TransportError(this.lastError);
          for (const w of this.queue.splice(0)) {
            clearTimeout(w.timer);
            w.reject(e);
          }
        } else {
          this.pump();
        }
      },
    );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private onClosed(conn: Conn): void {
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    const wasOpen = conn.state !== 'closed';
    conn.state = 'closed';
    this.conns.delete(conn);
    if (!wasOpen || conn.closingOnPurpose || this.closed) return;
    this.counters.dropped++;
    if (Date.now() - conn.readyAt < STABLE_MS) this.failures++;
    this.lastError = `the connection to ${this.opts.target} was lost${this.lastError ? ` (${this.lastError})` : ''}`;
    this.nextAttemptAt = Date.now() + this.backoffMs(this.failures);
    this.pump();
  }

  private armIdle(conn: Conn): void {
    if (conn.active > 0 || conn.state !== 'ready' || this.closed) return;
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    conn.idleTimer = setTimeout(() => {
      if (conn.active === 0 && conn.state === 'ready') void this.endConn(conn);
    }, this.opts.idleMs);
    conn.idleTimer.unref();
  }

  private endConn(conn: Conn): Promise<void> {
    conn.closingOnPurpose = true;
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    const client = conn.client;
    if (!client || conn.state === 'closed') return Promise.resolve();
    conn.state = 'closed';
    this.conns.delete(conn);
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => (client.destroy(), resolve()), 2000);
      client.once('close', () => (clearTimeout(t), resolve()));
      client.end();
    });
  }
}
