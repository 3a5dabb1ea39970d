// The bridge's end of `hpc-wrap agent` (contract/agent.ts, docs/contracts.md §8): ONE
// long-lived hpc-wrap per transport (a child process, or one exec channel on the SSH
// pool), so that a status tick or a submit is a line on a pipe instead of a Node start on
// the login node. It starts on first use, checks the agent's version, restarts it with
// backoff when it is lost, and says "unavailable" while it is not up: the caller then runs
// the one-shot command, so the agent can only make things faster, never stop them.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { agentFrameSchema, MAX_FRAME_BYTES, type EventFrame, type HelloFrame } from '../../contract/agent.js';
import { TransportError, type StreamProcess, type Transport } from '../transport/types.js';

/** The agent is not up (starting, backing off, refused): run the one-shot command instead. */
export class AgentUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentUnavailable';
  }
}

/** The agent ended while the request ran: it may or may not have completed (every operation is safe to repeat). */
export class AgentLost extends TransportError {
  constructor(message: string) {
    super(message);
    this.name = 'AgentLost';
  }
}

export interface AgentReply {
  exitCode: number;
  output: unknown;
}

export interface AgentClientOptions {
  /** The hpc-wrap argv (cluster.hpcWrap); `agent` is appended. */
  hpcWrap: readonly string[];
  /** The version the agent must report; 'dev' (the bridge run from source) accepts any. */
  version: string;
  log: Logger;
  /** How long a start may take until the agent's hello. */
  startTimeoutMs: number;
  /** First restart delay; doubles up to maxBackoffMs, back to the first after a minute up. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

type State = 'off' | 'starting' | 'up' | 'backoff' | 'refused' | 'closed';

interface Pending {
  resolve(r: AgentReply): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  op: string;
}

export interface AgentClientEvents {
  event: [EventFrame];
  /** The agent is up (again): the watch set must be sent. */
  up: [HelloFrame];
}

export class AgentClient extends EventEmitter<AgentClientEvents> {
  private state: State = 'off';
  private proc: StreamProcess | null = null;
  private hello: HelloFrame | null = null;
  private starting: Promise<void> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failures = 0;
  private upSince = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  /** Agents started (the first and every restart), for tests and metrics. */
  starts = 0;
  /** Why the agent is not used, when refused. */
  refusal: string | null = null;

  constructor(
    private readonly transport: Transport,
    private readonly opts: AgentClientOptions,
  ) {
    super();
  }

  get isUp(): boolean {
    return this.state === 'up';
  }

  /** The agent's process id on the login node (from its hello), or null when it is not up. */
  get pid(): number | null {
    return this.state === 'up' ? (this.hello?.pid ?? null) : null;
  }

  /** Starts the agent now (it also starts on first use); resolves when it is up or has failed. */
  async start(): Promise<void> {
    if (this.state === 'off') this.starting = this.spawn();
    await this.starting;
  }

  /** Sends one request; AgentUnavailable when the agent is not up (the caller runs the one-shot command). */
  async request(op: string, args: readonly string[], stdin: string, timeoutMs: number): Promise<AgentReply> {
    if (this.state === 'off' || this.state === 'starting') await this.start();
    const proc = this.proc;
    if (this.state !== 'up' || !proc) throw new AgentUnavailable(this.refusal ?? `the hpc-wrap agent is ${this.state}`);
    const id = this.nextId++;
    return new Promise<AgentReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TransportError(`hpc-wrap ${op} did not finish within ${timeoutMs} ms (agent on ${this.transport.description})`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer, op });
      proc.stdin.write(`${JSON.stringify({ type: 'request', id, op, args, stdin })}\n`);
    });
  }

  /** Kills the agent (tests: a lost agent; it is restarted with backoff). */
  kill(): void {
    this.proc?.kill();
  }

  async close(): Promise<void> {
    this.state = 'closed';
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const proc = this.proc;
    if (proc) {
      proc.stdin.end();
      const t = setTimeout(() => proc.kill(), 2000);
      await proc.ended;
      clearTimeout(t);
    }
    this.failAll('the bridge is shutting down');
  }

  private async spawn(): Promise<void> {
    this.state = 'starting';
    this.starts++;
    let proc: StreamProcess;
    try {
      proc = await this.transport.open!([...this.opts.hpcWrap, 'agent'], { timeoutMs: this.opts.startTimeoutMs });
    } catch (err) {
      return this.lost(`cannot start the hpc-wrap agent via ${this.transport.description}: ${(err as Error).message}`);
    }
    if ((this.state as State) === 'closed') return void proc.kill();
    this.proc = proc;
    let stderrTail = '';
    proc.stderr.on('data', (d: Buffer | string) => {
      stderrTail = (stderrTail + String(d)).slice(-2000);
    });
    const helloSeen = new Promise<HelloFrame | string>((resolve) => {
      const timer = setTimeout(() => resolve(`no hello from the hpc-wrap agent within ${this.opts.startTimeoutMs} ms`), this.opts.startTimeoutMs);
      timer.unref();
      this.readFrames(proc, (h) => {
        clearTimeout(timer);
        resolve(h);
      });
      void proc.ended.then((why) => {
        clearTimeout(timer);
        resolve(`${why}${stderrTail.trim() ? `: ${stderrTail.trim().split('\n').slice(-3).join(' / ')}` : ''}`);
      });
    });
    const hello = await helloSeen;
    if (typeof hello === 'string') {
      proc.kill();
      return this.lost(`the hpc-wrap agent did not start (${hello})`);
    }
    if (this.opts.version !== 'dev' && hello.version !== this.opts.version) {
      this.refusal =
        `the hpc-wrap agent via ${this.transport.description} is version ${hello.version}, this bridge is ${this.opts.version}: ` +
        'the agent is not used (commands run one at a time instead). Install the matching hpc-wrap on the login node (hpc-bridge deploy) and restart the bridge.';
      this.opts.log.error({ agent: hello.version, bridge: this.opts.version }, this.refusal);
      this.state = 'refused';
      proc.stdin.end();
      proc.kill();
      return;
    }
    this.hello = hello;
    this.state = 'up';
    this.upSince = Date.now();
    this.opts.log.info({ pid: hello.pid, via: this.transport.description }, 'hpc-wrap agent up');
    void proc.ended.then((why) => {
      if (this.proc === proc) this.lost(`the hpc-wrap agent ended (${why})`);
    });
    this.emit('up', hello);
  }

  /** Splits stdout into frames: the first is the hello, the rest responses and events. */
  private readFrames(proc: StreamProcess, onHello: (h: HelloFrame) => void): void {
    let buf = '';
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d: Buffer | string) => {
      buf += String(d);
      if (buf.length > MAX_FRAME_BYTES) {
        this.opts.log.error('the hpc-wrap agent wrote a frame longer than the limit; restarting it');
        buf = '';
        proc.kill();
        return;
      }
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) this.frame(line, onHello);
      }
    });
  }

  private frame(line: string, onHello: (h: HelloFrame) => void): void {
    let parsed;
    try {
      parsed = agentFrameSchema.safeParse(JSON.parse(line));
    } catch {
      parsed = null;
    }
    if (!parsed?.success) {
      this.opts.log.warn('the hpc-wrap agent wrote a line that is not a frame; ignored');
      return;
    }
    const f = parsed.data;
    if (f.type === 'hello') return onHello(f);
    if (f.type === 'event') return void this.emit('event', f);
    const p = this.pending.get(f.id);
    if (!p) return;
    this.pending.delete(f.id);
    clearTimeout(p.timer);
    p.resolve({ exitCode: f.exitCode, output: f.output });
  }

  private failAll(why: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new AgentLost(`${why} while hpc-wrap ${p.op} ran; it may or may not have completed`));
      this.pending.delete(id);
    }
  }

  /** Lost or could not start: the pending requests fail (their callers retry one-shot) and a restart is planned. */
  private lost(why: string): void {
    this.proc = null;
    this.hello = null;
    this.failAll(why);
    if (this.state === 'closed' || this.state === 'refused') return;
    if (this.upSince && Date.now() - this.upSince > 60_000) this.failures = 0;
    this.upSince = 0;
    const base = this.opts.backoffMs ?? 500;
    const delay = Math.min(this.opts.maxBackoffMs ?? 60_000, base * 2 ** this.failures++);
    this.opts.log.warn({ retryInMs: delay }, why);
    this.state = 'backoff';
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.state === 'backoff') {
        this.starting = this.spawn();
      }
    }, delay);
    this.restartTimer.unref();
  }
}
