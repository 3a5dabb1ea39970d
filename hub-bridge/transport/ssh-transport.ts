// Runs hpc-wrap on the login node over SSH: one exec channel per command on pooled,
// authenticated connections (SshConnectionPool), host keys checked against a
// known_hosts file, secrets only on the channel's stdin. identity "sudo": identity.ts.
import { readFileSync, statSync } from 'node:fs';
import ssh2 from 'ssh2';
import type { Client, ClientChannel, SFTPWrapper } from 'ssh2';
import type { SshTransportConfig } from '../../config/schema.js';
import { identityArgv } from './identity.js';
import { KnownHosts } from './known-hosts-file.js';
import { SshConnectionPool, type SshLease, type SshPoolStats } from './ssh-connection-pool.js';
import { hostKeyAlgorithms, makeHostVerifier, type HostKeyTarget } from './ssh-host-key.js';
import { remoteCommand } from './ssh-quote.js';
import { TransportError, type RunOptions, type RunResult, type StreamProcess, type Transport } from './types.js';

/** A configuration problem found when the transport is made (not transient). */
export class SshConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshConfigError';
  }
}

const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
/** Channel-open refusals (server session limit) tolerated per command before giving up. */
const MAX_REFUSALS = 20;

/** Reads the private key: it must be a regular file readable by its owner only, without a passphrase. */
export function loadIdentityFile(file: string): Buffer {
  const key = 'cluster.transport.identityFile';
  let mode: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new Error('not a regular file');
    mode = st.mode & 0o777;
  } catch (err) {
    throw new SshConfigError(`cannot use the SSH private key ${file} (${key}): ${(err as Error).message}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new SshConfigError(
      `the SSH private key ${file} (${key}) has mode 0${mode.toString(8)}: it must be readable by its owner only (0600). Run: chmod 600 ${file}`,
    );
  }
  const data = readFileSync(file);
  const parsed = ssh2.utils.parseKey(data);
  const first = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!first || first instanceof Error) {
    const why = first instanceof Error ? first.message : 'no key found';
    throw new SshConfigError(`the SSH private key ${file} (${key}) cannot be used: ${why} (keys with a passphrase are not supported)`);
  }
  if (!first.isPrivateKey()) throw new SshConfigError(`${file} (${key}) holds a public key; give the private key file`);
  return data;
}

function isSessionRefusal(err: Error & { reason?: unknown }): boolean {
  // 1 = administratively prohibited (OpenSSH's "open failed" at MaxSessions), 4 = resource shortage
  return err.reason === 1 || err.reason === 4 || /open failed|administratively prohibited/i.test(err.message);
}

/**
 * Asks sshd to SIGKILL the command's process group (RFC 4254 "signal" request; OpenSSH
 * >= 7.8 honours it for non-forced sessions). ssh2's ClientChannel.signal() sends nothing
 * once stdin was ended, which is always the case here, so the request goes through its
 * protocol object; without it, closing the channel alone leaves the command running.
 */
function sendKill(ch: ClientChannel): void {
  const c = ch as unknown as {
    outgoing?: { id: number; state: string };
    _client?: { _protocol?: { signal?(id: number, name: string): void } };
  };
  try {
    if (c.outgoing && (c.outgoing.state === 'open' || c.outgoing.state === 'eof')) c._client?._protocol?.signal?.(c.outgoing.id, 'KILL');
  } catch {
    /* the connection is gone: nothing to signal */
  }
}

export class SshTransport implements Transport {
  readonly description: string;
  private readonly pool: SshConnectionPool;
  private readonly privateKey: Buffer;
  private readonly target: HostKeyTarget;
  private readonly where: string;

  constructor(
    private readonly cfg: SshTransportConfig,
    opts: { configFile?: string | null } = {},
  ) {
    this.privateKey = loadIdentityFile(cfg.identityFile);
    this.where = `${cfg.user}@${cfg.host}:${cfg.port}`;
    this.description = `ssh ${this.where} (identity ${cfg.identity})`;
    this.target = {
      host: cfg.host,
      port: cfg.port,
      user: cfg.user,
      knownHosts: new KnownHosts(cfg.knownHostsFile),
      configFile: opts.configFile ?? null,
    };
    this.pool = new SshConnectionPool({
      maxConnections: cfg.maxConnections,
      maxSessionsPerConnection: cfg.maxSessionsPerConnection,
      maxQueue: cfg.maxQueue,
      idleMs: cfg.idleSeconds * 1000,
      target: this.where,
      connect: () => this.connect(),
    });
  }

  get identity(): 'shared' | 'sudo' {
    return this.cfg.identity;
  }

  /**
   * A long-running command (the agent) on ONE exec channel of a pooled connection: it holds
   * that session slot until it ends. Never as another user (no sudo prefix).
   */
  async open(argv: readonly string[], opts: { timeoutMs: number }): Promise<StreamProcess> {
    const command = remoteCommand(argv);
    const name = argv[0]!;
    const deadline = Date.now() + opts.timeoutMs;
    for (let refusals = 0, lost = 0; ; ) {
      const lease = await this.pool.acquire(deadline, refusals + lost > 0);
      const r = await new Promise<ClientChannel | 'refused' | TransportError>((resolve) => {
        try {
          lease.client.exec(command, (err, ch) => {
            if (!err) return resolve(ch);
            if (isSessionRefusal(err)) lease.refused();
            else lease.release();
            resolve(isSessionRefusal(err) ? 'refused' : new TransportError(`cannot open an SSH channel on ${this.where} for ${name}: ${err.message}`));
          });
        } catch (e) {
          lease.release();
          resolve(new TransportError(`cannot open an SSH channel on ${this.where} for ${name}: ${(e as Error).message}`));
        }
      });
      if (r instanceof TransportError) {
        if (++lost > 1) throw r;
      } else if (r === 'refused') {
        if (++refusals > MAX_REFUSALS) throw new TransportError(`${this.where} refused ${refusals} SSH session channels for ${name}`);
      } else {
        const ch = r;
        let exit = 'the SSH channel closed';
        ch.on('exit', (code: number | null, sig?: string) => {
          exit = typeof code === 'number' ? `${name} exited with status ${code} on ${this.where}` : `${name} was killed by ${sig ?? 'a signal'} on ${this.where}`;
        });
        ch.on('error', () => {});
        const ended = new Promise<string>((resolve) => ch.once('close', () => {
          lease.release();
          resolve(exit);
        }));
        return {
          stdin: ch,
          stdout: ch,
          stderr: ch.stderr,
          ended,
          kill: () => {
            sendKill(ch);
            ch.close();
          },
        };
      }
    }
  }

  stats(): SshPoolStats {
    return this.pool.stats();
  }

  /** The argv that runs on the login node (with the sudo prefix in identity sudo). */
  remoteArgv(argv: readonly string[], asUser: string | undefined): readonly string[] {
    return identityArgv(this.cfg.identity, this.cfg.sudoCommand, argv, asUser);
  }

  async run(argv: readonly string[], opts: RunOptions): Promise<RunResult> {
    const command = remoteCommand(this.remoteArgv(argv, opts.asUser));
    const name = argv[0]!;
    const deadline = Date.now() + opts.timeoutMs;
    let refusals = 0;
    let lost = 0;
    for (;;) {
      const lease = await this.pool.acquire(deadline, refusals + lost > 0);
      const r = await this.execOnce(lease, command, name, opts.stdin ?? '', deadline, opts.timeoutMs);
      // 'refused' and TransportError: the channel never opened, the command did not run, so trying again is safe
      if (r instanceof TransportError) {
        if (++lost > 1) throw r;
      } else if (r === 'refused') {
        if (++refusals > MAX_REFUSALS) {
          throw new TransportError(
            `${this.where} refused ${refusals} SSH session channels for ${name}: its MaxSessions is lower than cluster.transport.maxSessionsPerConnection (${this.cfg.maxSessionsPerConnection})`,
          );
        }
      } else return r;
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  /**
   * An SFTP session on a pooled connection (host key verified like every other): it holds
   * one session slot until `close()` (or until the server ends it).
   */
  async sftp(timeoutMs: number): Promise<{ sftp: SFTPWrapper; close(): void }> {
    const deadline = Date.now() + timeoutMs;
    for (let refusals = 0, lost = 0; ; ) {
      const lease = await this.pool.acquire(deadline, refusals + lost > 0);
      const r = await new Promise<SFTPWrapper | 'refused' | TransportError>((resolve) => {
        try {
          lease.client.sftp((err, sftp) => {
            if (!err) return resolve(sftp);
            if (isSessionRefusal(err)) lease.refused();
            else lease.release();
            resolve(isSessionRefusal(err) ? 'refused' : new TransportError(`cannot open an SFTP session on ${this.where}: ${err.message} (its sshd_config needs a Subsystem sftp line)`));
          });
        } catch (e) {
          lease.release();
          resolve(new TransportError(`cannot open an SFTP session on ${this.where}: ${(e as Error).message}`));
        }
      });
      if (r instanceof TransportError) {
        if (++lost > 1) throw r;
      } else if (r === 'refused') {
        if (++refusals > MAX_REFUSALS) throw new TransportError(`${this.where} refused ${refusals} SSH session channels for SFTP`);
      } else {
        r.once('close', () => lease.release());
        return { sftp: r, close: () => r.end() };
      }
    }
  }

  private connect(): Promise<Client> {
    return new Promise((resolve, reject) => {
      const client = new ssh2.Client();
      let refusal: TransportError | null = null;
      let settled = false;
      const fail = (message: string) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(refusal ?? new TransportError(message));
      };
      client.once('ready', () => {
        settled = true;
        // small request packets: without this, Nagle + delayed ACK add ~40 ms to some commands
        client.setNoDelay(true);
        resolve(client);
      });
      client.on('error', (err: Error & { level?: string; code?: string }) => fail(this.connectError(err)));
      client.once('close', () => fail(`${this.where} closed the connection before login completed`));
      client.connect({
        host: this.cfg.host,
        port: this.cfg.port,
        username: this.cfg.user,
        privateKey: this.privateKey,
        tryKeyboard: false,
        readyTimeout: this.cfg.connectTimeoutSeconds * 1000,
        keepaliveInterval: this.cfg.keepaliveIntervalSeconds * 1000,
        keepaliveCountMax: this.cfg.keepaliveCountMax,
        algorithms: { serverHostKey: hostKeyAlgorithms(this.target) as never },
        hostVerifier: makeHostVerifier(this.target, (e) => (refusal = e)),
      });
    });
  }

  private connectError(err: Error & { level?: string; code?: string }): string {
    if (err.level === 'client-authentication') {
      return `${this.where} refused the key ${this.cfg.identityFile} (cluster.transport.identityFile): add its public key to ~${this.cfg.user}/.ssh/authorized_keys on ${this.cfg.host}`;
    }
    if (err.code === 'ECONNREFUSED') return `nothing accepts connections on ${this.cfg.host}:${this.cfg.port} (connection refused): is sshd running there?`;
    if (/timed out/i.test(err.message)) {
      return `no SSH login to ${this.where} within ${this.cfg.connectTimeoutSeconds} s (cluster.transport.connectTimeoutSeconds): ${err.message}`;
    }
    return `cannot connect to ${this.where}: ${err.message}`;
  }

  /**
   * Runs the command on one exec channel. Resolves 'refused' when the server would not
   * open the channel (session limit), or a TransportError when the channel could not be
   * opened for another reason (connection lost): in both cases the command did not run.
   */
  private execOnce(
    lease: SshLease,
    command: string,
    name: string,
    stdin: string,
    deadline: number,
    timeoutMs: number,
  ): Promise<RunResult | 'refused' | TransportError> {
    return new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let bytes = 0;
      let exitCode: number | null = null;
      let signal: string | null = null;
      let channel: ClientChannel | null = null;
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const abort = (ch: ClientChannel, why: string) => {
        // the slot is freed when the channel's close arrives, or after 5 s without it
        ch.once('close', () => lease.release());
        setTimeout(() => lease.release(), 5000).unref();
        sendKill(ch);
        ch.close();
        settle(() => reject(new TransportError(why)));
      };
      const timer = setTimeout(() => {
        const why = `${name} did not finish within ${timeoutMs} ms on ${this.where}; its SSH channel was closed`;
        if (channel) abort(channel, why);
        else settle(() => reject(new TransportError(why)));
      }, Math.max(0, deadline - Date.now()));
      const collect = (into: Buffer[]) => (chunk: Buffer) => {
        if (settled) return;
        bytes += chunk.length;
        if (bytes > MAX_OUTPUT_BYTES && channel) abort(channel, `${name} wrote more than ${MAX_OUTPUT_BYTES} bytes of output on ${this.where}`);
        else into.push(chunk);
      };
      try {
        lease.client.exec(command, (openErr, ch) => {
          if (openErr) {
            if (isSessionRefusal(openErr)) {
              lease.refused();
              settle(() => resolve('refused'));
            } else {
              lease.release();
              settle(() => resolve(new TransportError(`cannot open an SSH channel on ${this.where} for ${name}: ${openErr.message}`)));
            }
            return;
          }
          channel = ch;
          if (settled) {
            abort(ch, 'timed out');
            return;
          }
          ch.on('data', collect(out));
          ch.stderr.on('data', collect(err));
          ch.on('error', () => {});
          ch.on('exit', (code: number | null, sig?: string) => {
            if (typeof code === 'number') exitCode = code;
            else signal = sig ?? 'unknown';
          });
          ch.once('close', () => {
            lease.release();
            const finish = () =>
              settle(() => {
                if (signal) reject(new TransportError(`${name} was killed by signal ${signal} on ${this.where}`));
                else if (exitCode === null) {
                  reject(new TransportError(`the SSH connection to ${this.where} was lost while ${name} ran; it may or may not have completed`));
                } else resolve({ exitCode, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
              });
            if (ch.stderr.readableEnded || ch.stderr.destroyed) finish();
            else ch.stderr.once('end', finish);
          });
          ch.end(stdin);
        });
      } catch (e) {
        lease.release();
        settle(() => resolve(new TransportError(`cannot open an SSH channel on ${this.where} for ${name}: ${(e as Error).message}`)));
      }
    });
  }
}
