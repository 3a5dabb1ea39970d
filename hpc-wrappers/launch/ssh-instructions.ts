// For sites without a gateway: the exact `ssh -L` command for this job's node and port,
// as the CADES and SWC guides have users write by hand. A server on the node's loopback
// is reached by jumping through the login node to the node (ssh -J); a server on the
// node's network address can also be forwarded from the login node directly.

export interface SshInput {
  user: string;
  loginHost: string;
  node: string;
  port: number;
  localPort: number;
  /** Where the server listens on the node. */
  bindAddress: string;
}

export interface SshInstructions {
  /** The command to run on the laptop (argv, for --json) and as one line to copy. */
  argv: string[];
  command: string;
  /** An alternative (login node forwards to the node's address), or null. */
  alternative: string | null;
  localUrl: string;
}

const quoteIfNeeded = (w: string) => (/^[A-Za-z0-9_.,:@%+=\/-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

export function sshInstructions(i: SshInput): SshInstructions {
  const loopback = i.bindAddress === '127.0.0.1' || i.bindAddress === '::1' || i.bindAddress === 'localhost';
  const argv = ['ssh', '-N', '-L', `${i.localPort}:127.0.0.1:${i.port}`, '-J', `${i.user}@${i.loginHost}`, `${i.user}@${i.node}`];
  const alt = loopback ? null : ['ssh', '-N', '-L', `${i.localPort}:${i.node}:${i.port}`, `${i.user}@${i.loginHost}`].map(quoteIfNeeded).join(' ');
  return { argv, command: argv.map(quoteIfNeeded).join(' '), alternative: alt, localUrl: `http://127.0.0.1:${i.localPort}/` };
}
