// The ONE place in the bridge where a command string is built. SSH has no argv: an exec
// request carries a single string that sshd hands to the account's login shell
// (`$SHELL -c STRING`). To keep the argv semantics across that shell, every argument is
// wrapped in POSIX single quotes. Inside single quotes a POSIX shell (sh, bash, dash,
// ksh, zsh) interprets nothing at all: no `$`, backquote, `\`, glob, `;`, `|`, `&`,
// redirection or word splitting. The only character that cannot appear inside single
// quotes is `'` itself; it is written as `'\''` (close the quote, an escaped quote,
// reopen). So each argument reaches the remote program as exactly one argv element,
// byte for byte. NUL cannot be carried in argv at all, and CR/LF are refused because
// some login shells (csh/tcsh) end a command at a newline even inside quotes.
import { TransportError } from './types.js';

const FORBIDDEN = /[\0\n\r]/;

/** `arg` as one POSIX single-quoted shell word. */
export function shellQuote(arg: string): string {
  if (FORBIDDEN.test(arg)) {
    throw new TransportError(
      `cannot send argument ${JSON.stringify(arg.slice(0, 60))} over SSH: it contains a NUL, newline or carriage return`,
    );
  }
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The remote command string for `argv`: every element single-quoted, joined by spaces. */
export function remoteCommand(argv: readonly string[]): string {
  if (argv.length === 0 || !argv[0]) throw new TransportError('empty command');
  return argv.map(shellQuote).join(' ');
}
