// Entry of dist/hpc-bridge-authorized-keys.mjs: sshd's AuthorizedKeysCommand for the tunnel
// account. Deliberately tiny (no express, pino, sqlite, yargs): sshd runs it on every login.
import { authorizedKeysMain } from './tunnel/authorized-keys.js';

let out = '';
process.exitCode = authorizedKeysMain(process.argv.slice(2), {
  out: (text) => (out += text),
  err: (text) => process.stderr.write(text),
});
if (out) process.stdout.write(out);
