// Runs the single-user server: no shell, signals relayed, a TCP readiness probe, and
// the exit status in the shell convention (128 + signal number).
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { dropIfSelfConnected } from './self-connect.js';

export const RELAYED_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const;

export interface ServerExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** What start-env itself exits with. */
  status: number;
  error: string | null;
}

export function signalStatus(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

export function canConnect(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => (dropIfSelfConnected(sock) ? resolve(false) : done(true)));
    sock.once('error', () => done(false));
  });
}

/** Relays the usual job-control signals to the current child; remembers them until one exists. */
export class SignalRelay {
  private child: ChildProcess | null = null;
  readonly received: NodeJS.Signals[] = [];
  private readonly handlers = new Map<NodeJS.Signals, () => void>();
  private endJob: (signal: NodeJS.Signals) => void = () => undefined;
  /** Settles with the first signal that ends a job (SIGTERM, SIGINT, SIGHUP; not Slurm's SIGUSR warnings). */
  readonly ending = new Promise<NodeJS.Signals>((resolve) => (this.endJob = resolve));

  install(): void {
    for (const sig of RELAYED_SIGNALS) {
      const h = () => {
        this.received.push(sig);
        this.child?.kill(sig);
        if (sig === 'SIGTERM' || sig === 'SIGINT' || sig === 'SIGHUP') this.endJob(sig);
      };
      this.handlers.set(sig, h);
      process.on(sig, h);
    }
  }

  attach(child: ChildProcess): void {
    this.child = child;
  }

  /** Stops the server from here (a step that failed once it listened): SIGTERM, as a job end would. */
  stopServer(): void {
    this.child?.kill('SIGTERM');
  }

  uninstall(): void {
    for (const [sig, h] of this.handlers) process.off(sig, h);
    this.handlers.clear();
  }
}

export interface RunServerOptions {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  relay: SignalRelay;
  probe: { host: string; port: number } | null;
  onListening: () => void;
}

export function runServer(opts: RunServerOptions): Promise<ServerExit> {
  const [cmd, ...args] = opts.argv;
  return new Promise((resolve) => {
    let exited = false;
    const child = spawn(cmd!, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'inherit', 'inherit'], shell: false });
    opts.relay.attach(child);
    child.once('error', (err) => {
      if (exited) return;
      exited = true;
      resolve({ exitCode: 127, signal: null, status: 127, error: `cannot start ${cmd}: ${err.message}` });
    });
    child.once('exit', (code, signal) => {
      if (exited) return;
      exited = true;
      resolve({ exitCode: code, signal, status: signal ? signalStatus(signal) : (code ?? 1), error: null });
    });
    if (opts.probe) {
      const { host, port } = opts.probe;
      void (async () => {
        const started = Date.now();
        while (!exited) {
          if (await canConnect(host, port)) {
            if (!exited) opts.onListening();
            return;
          }
          await sleep(Date.now() - started < 30_000 ? 200 : 1000);
        }
      })();
    }
  });
}
