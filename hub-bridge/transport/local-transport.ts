// Runs commands on this machine with execa (argv arrays, never a shell), optionally as
// another local account: the bridge then runs as root and drops to that uid/gid.
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { identityArgv, type Identity } from './identity.js';
import { TransportError, type RunOptions, type RunResult, type StreamProcess, type Transport } from './types.js';

interface Account {
  uid: number;
  gid: number;
  home: string;
}

export function lookupAccount(name: string, passwdFile = '/etc/passwd'): Account {
  for (const line of readFileSync(passwdFile, 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 7) return { uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
  }
  throw new TransportError(`local account "${name}" (cluster.transport.runAs) does not exist on this machine`);
}

const KEEP_ENV = ['PATH', 'LANG', 'LC_ALL', 'TZ', 'SLURM_CONF'];

export class LocalTransport implements Transport {
  readonly description: string;
  private readonly account: Account | null;
  private readonly runAs: string | null;

  readonly identity: Identity;
  private readonly sudoCommand: readonly string[];

  constructor(opts: { runAs: string | null; identity?: Identity; sudoCommand?: readonly string[] }) {
    this.runAs = opts.runAs;
    this.identity = opts.identity ?? 'shared';
    this.sudoCommand = opts.sudoCommand ?? ['sudo', '-n', '-u'];
    this.account = opts.runAs ? lookupAccount(opts.runAs) : null;
    if (this.account && process.getuid?.() !== 0) {
      throw new TransportError(`cluster.transport.runAs is "${opts.runAs}" but the bridge is not running as root`);
    }
    this.description = `${opts.runAs ? `local (as ${opts.runAs})` : 'local'}${this.identity === 'sudo' ? ', identity sudo' : ''}`;
  }

  private env(): Record<string, string> | undefined {
    if (!this.account) return undefined;
    const env: Record<string, string> = { HOME: this.account.home, USER: this.runAs!, LOGNAME: this.runAs! };
    for (const k of KEEP_ENV) if (process.env[k]) env[k] = process.env[k]!;
    return env;
  }

  async run(argv: readonly string[], opts: RunOptions): Promise<RunResult> {
    const [file, ...args] = identityArgv(this.identity, this.sudoCommand, argv, opts.asUser);
    if (!file) throw new TransportError('empty command');
    const env = this.env();
    try {
      const r = await execa(file, args, {
        input: opts.stdin ?? '',
        timeout: opts.timeoutMs,
        reject: false,
        stripFinalNewline: false,
        ...(env ? { env, extendEnv: false } : {}),
        ...(this.account ? { uid: this.account.uid, gid: this.account.gid, cwd: '/' } : {}),
      });
      if (r.timedOut) throw new TransportError(`${file} did not finish within ${opts.timeoutMs} ms`);
      if (r.exitCode === undefined) {
        const cause = r.cause instanceof Error ? r.cause.message : (r.signal ?? 'unknown cause');
        throw new TransportError(`cannot run ${file}: ${cause}`);
      }
      return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
    } catch (err) {
      if (err instanceof TransportError) throw err;
      throw new TransportError(`cannot run ${file}: ${(err as Error).message}`);
    }
  }

  /** A child process with pipes (the agent), as the runAs account when one is set. */
  async open(argv: readonly string[]): Promise<StreamProcess> {
    const [file, ...args] = argv;
    if (!file) throw new TransportError('empty command');
    const env = this.env();
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(env ? { env } : {}),
      ...(this.account ? { uid: this.account.uid, gid: this.account.gid, cwd: '/' } : {}),
    });
    const ended = new Promise<string>((resolve) => {
      child.once('error', (err) => resolve(`cannot run ${file}: ${err.message}`));
      child.once('close', (code, signal) => resolve(signal ? `${file} was killed by ${signal}` : `${file} exited with status ${code}`));
    });
    child.stdin.on('error', () => {}); // EPIPE once it ended: "ended" tells
    return { stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, ended, kill: () => void child.kill('SIGKILL') };
  }

  async close(): Promise<void> {}
}
