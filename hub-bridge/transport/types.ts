// How the bridge runs a command on the login node. Nothing above this interface knows
// whether it is a local process or a pooled SSH channel.

export interface RunOptions {
  /** Written to the command's stdin (the only way secrets travel). */
  stdin?: string;
  timeoutMs: number;
  /**
   * The JupyterHub user the command is for (validated with contract/names.ts
   * validateUsername). A transport with `identity: sudo` runs the command as that account
   * through sudo (identity.ts); with `identity: shared` it is ignored.
   */
  asUser?: string;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** The command could not be run at all (not: it ran and failed). Callers treat it as transient. */
export class TransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransportError';
  }
}

/** A long-running command with open pipes (the hpc-wrap agent): a child process or one SSH exec channel. */
export interface StreamProcess {
  readonly stdin: NodeJS.WritableStream;
  readonly stdout: NodeJS.ReadableStream;
  readonly stderr: NodeJS.ReadableStream;
  /** Resolves once the command has ended, with why (exit status, signal, connection lost). */
  readonly ended: Promise<string>;
  /** Ends the command (SIGKILL locally; the SSH signal request and channel close remotely). */
  kill(): void;
}

export interface Transport {
  readonly description: string;
  /** identity "sudo": commands run FOR a user run as that user (identity.ts); absent = shared. */
  readonly identity?: 'shared' | 'sudo';
  run(argv: readonly string[], opts: RunOptions): Promise<RunResult>;
  /** Starts a long-running command as the service account (no asUser); absent = the transport cannot. */
  open?(argv: readonly string[], opts: { timeoutMs: number }): Promise<StreamProcess>;
  close(): Promise<void>;
}
