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

export interface Transport {
  readonly description: string;
  run(argv: readonly string[], opts: RunOptions): Promise<RunResult>;
  close(): Promise<void>;
}
