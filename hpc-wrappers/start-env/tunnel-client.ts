// The compute side of the notebook tunnel: one ssh2 connection to the bridge's tunnel
// endpoint that holds the reverse forward hub 127.0.0.1:remotePort → node target, kept
// alive and re-established with exponential backoff (capped, with jitter so that many
// agents do not reconnect in lockstep) whenever it drops. Other code asks it for the live
// connection (the hub API forwarder opens direct-tcpip channels on it). It also pushes the
// server's phase to the bridge on a small status channel (docs/tunnel.md).
import { createPrivateKey, sign as cryptoSign } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { TunnelState } from '../run-dir-files.js';
import { STATUS_CHANNEL, type StatusPush, type TunnelSpec } from '../../contract/tunnel.js';
import { tunnelHostKeys, type TunnelHostKeys } from './tunnel-host-key.js';
import { dropIfSelfConnected } from './self-connect.js';
import { batchingSocket, splice } from './tunnel-pipe.js';

export interface TunnelClientOptions {
  spec: TunnelSpec;
  /** SECRET: only handed to ssh2. */
  privateKey: string;
  /** The node-side server the hub reaches through the reverse forward. */
  target: { host: string; port: number };
  onState(state: TunnelState, lastError: string | null): void;
  say(line: string): void;
  backoff?: { initialMs: number; maxMs: number };
}

export type PhaseReport = StatusPush;

/** The job's key parsed by ssh2, an ed25519 one signing with a key object made once. */
function parsedSigningKey(privateKey: string): ssh2.ParsedKey {
  const parsed = ssh2.utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error || !key.isPrivateKey()) throw new Error("the job's tunnel key (secrets.json tunnelPrivateKey) is not a private key ssh2 can read");
  if (key.type !== 'ssh-ed25519') return key;
  const keyObject = createPrivateKey(key.getPrivatePEM());
  key.sign = (data: Buffer | string) => cryptoSign(null, typeof data === 'string' ? Buffer.from(data) : data, keyObject);
  return key;
}

const CIPHERS = ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr', 'aes256-ctr', 'chacha20-poly1305@openssh.com'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class TunnelClient {
  private current: ssh2.Client | null = null;
  private stopped = false;
  private delayMs: number;
  private timer: NodeJS.Timeout | null = null;
  private waiters: (() => void)[] = [];
  private readonly streams = new Set<Duplex>();
  private readonly clients = new Set<ssh2.Client>();
  private readonly hostKeys: TunnelHostKeys;
  private everUp = false;
  private lastSaid: string | null = null;
  private phase: PhaseReport | null = null;
  private statusChannel: Duplex | null = null;
  lastError: string | null = null;
  /** The cipher of the current connection (client → server), for the log. */
  cipher: string | null = null;
  /** A host key refusal before the first success: retrying cannot help. */
  fatal: string | null = null;

  /** The job's key, parsed once (ssh2 would parse it, and its PEM for each signature, on every login). */
  private readonly key: ssh2.ParsedKey;

  constructor(private readonly opts: TunnelClientOptions) {
    this.hostKeys = tunnelHostKeys(opts.spec.hostKeys, opts.spec.host, opts.spec.port);
    this.delayMs = opts.backoff?.initialMs ?? 250;
    this.key = parsedSigningKey(opts.privateKey);
  }

  get where(): string {
    return `${this.opts.spec.user}@${this.opts.spec.host}:${this.opts.spec.port}`;
  }

  start(): void {
    this.connect();
  }

  /** The connection once the forward is up (waits up to `timeoutMs`), or null. */
  async live(timeoutMs: number): Promise<ssh2.Client | null> {
    if (this.current || this.stopped) return this.current;
    await Promise.race([new Promise<void>((r) => this.waiters.push(r)), sleep(timeoutMs)]);
    return this.current;
  }

  /** Resolves when the forward is up; rejects on a host key refusal, timeout or stop. */
  async waitUp(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.current) {
      if (this.fatal) throw new Error(this.fatal);
      if (this.stopped) throw new Error('the tunnel was stopped');
      if (Date.now() >= deadline) {
        throw new Error(`the tunnel to ${this.where} did not come up within ${Math.round(timeoutMs / 1000)} s: ${this.lastError ?? 'no answer'}`);
      }
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), sleep(Math.min(250, deadline - Date.now()))]);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.streams) s.destroy();
    await Promise.all(
      [...this.clients].map(
        (c) =>
          new Promise<void>((resolve) => {
            c.once('close', () => resolve());
            setTimeout(resolve, 1000).unref();
            c.end();
          }),
      ),
    );
    for (const c of this.clients) c.destroy();
    this.current = null;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private note(error: string): void {
    this.lastError = error;
    if (error !== this.lastSaid) this.opts.say(`tunnel: ${error} (retrying)`);
    this.lastSaid = error;
  }

  /** Tells the bridge the server's phase (now, and again after every reconnect). */
  reportPhase(report: PhaseReport): void {
    this.phase = report;
    this.statusChannel?.write(`${JSON.stringify(report)}\n`);
  }

  private openStatusChannel(client: ssh2.Client): void {
    client.forwardOut('127.0.0.1', 0, STATUS_CHANNEL.host, STATUS_CHANNEL.port, (err, ch) => {
      if (err || this.current !== client) return void ch?.destroy();
      this.statusChannel = ch;
      this.streams.add(ch);
      ch.on('close', () => {
        this.streams.delete(ch);
        if (this.statusChannel === ch) this.statusChannel = null;
      });
      ch.on('error', () => ch.destroy());
      ch.resume(); // the endpoint never writes; drain anyway
      if (this.phase) ch.write(`${JSON.stringify(this.phase)}\n`);
    });
  }

  /** The next reconnect delay: the current backoff step with ±25% jitter; the step doubles up to the cap. */
  private nextDelay(): number {
    const d = this.delayMs * (0.75 + Math.random() * 0.5);
    this.delayMs = Math.min(this.delayMs * 2, this.opts.backoff?.maxMs ?? 5000);
    return Math.round(d);
  }

  private connect(): void {
    if (this.stopped) return;
    this.opts.onState('connecting', this.lastError);
    const { spec } = this.opts;
    const client = new ssh2.Client();
    this.clients.add(client);
    let refused: string | null = null;
    let up = false;
    let authTried = false;
    client.on('ready', () => {
      void this.forward(client).then((ok) => {
        if (!ok || this.stopped) return void client.end();
        up = true;
        this.everUp = true;
        this.current = client;
        this.lastError = null;
        this.lastSaid = null;
        this.delayMs = this.opts.backoff?.initialMs ?? 250;
        this.opts.onState('up', null);
        this.opts.say(`tunnel up: hub 127.0.0.1:${spec.remotePort} → node ${this.opts.target.host}:${this.opts.target.port}`);
        this.openStatusChannel(client);
        this.wake();
      });
    });
    client.on('handshake', (negotiated) => (this.cipher = negotiated.cs.cipher));
    client.on('tcp connection', (info, accept, reject) => {
      if (info.destPort !== spec.remotePort) return reject();
      this.relay(accept());
    });
    client.on('error', (err) => {
      const msg = refused ?? `${err.message}${(err as { level?: string }).level === 'client-authentication' ? ' (the bridge did not accept this job\'s tunnel key: the session ended, or the key expired)' : ''}`;
      if (refused && !this.everUp) this.fatal = refused;
      if (!up) this.note(msg);
      else this.lastError = msg;
    });
    client.on('close', () => {
      this.clients.delete(client);
      if (this.current === client) this.current = null;
      if (this.stopped) return;
      if (up) {
        this.lastError ??= 'the connection to the hub closed';
        this.opts.say(`tunnel down: ${this.lastError}, reconnecting`);
        this.lastSaid = this.lastError;
      }
      this.opts.onState('down', this.lastError);
      if (this.fatal) return this.wake();
      this.timer = setTimeout(() => this.connect(), this.nextDelay());
    });
    client.connect({
      sock: batchingSocket(spec.host, spec.port),
      host: spec.host,
      port: spec.port,
      username: spec.user,
      // the parsed key goes through authHandler: ssh2's `privateKey` takes only text
      authHandler: ((_left: unknown, _partial: unknown, next: (auth: unknown) => void) => {
        next(authTried ? false : { type: 'publickey', username: spec.user, key: this.key });
        authTried = true;
      }) as never,
      hostVerifier: this.hostKeys.verifier((m) => (refused = m)),
      algorithms: { serverHostKey: this.hostKeys.algorithms as never, cipher: CIPHERS as never },
      keepaliveInterval: spec.keepaliveIntervalSeconds * 1000,
      keepaliveCountMax: 3,
      readyTimeout: 20_000,
    });
  }

  /**
   * Requests the reverse forward. The endpoint refuses it only for a port that is not this
   * key's (a configuration error, not a passing state): before the first success that ends
   * the start at once.
   */
  private async forward(client: ssh2.Client): Promise<boolean> {
    const { remotePort } = this.opts.spec;
    const err = await new Promise<Error | undefined>((r) => client.forwardIn('127.0.0.1', remotePort, (e) => r(e)));
    if (!err) return true;
    const msg = `the bridge refused the forward of its 127.0.0.1:${remotePort} to this job (${err.message})`;
    if (!this.everUp) this.fatal = msg;
    this.note(msg);
    return false;
  }

  /** One connection the hub made to its end of the reverse forward → the node-side server. */
  private relay(channel: Duplex): void {
    const sock: Socket = tcpConnect({ host: this.opts.target.host, port: this.opts.target.port, allowHalfOpen: true, noDelay: true });
    // before the server listens: not into a socket connected to itself (it would echo the
    // request back and hold the server's port); closing it closes the hub's connection
    sock.once('connect', () => dropIfSelfConnected(sock));
    splice(channel, sock, this.streams);
  }
}
