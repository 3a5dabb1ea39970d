// What both programs (hpc-wrap, hpc-bridge) do with a command-line mistake: exit 2 with the
// reason (the contract's "invalid", contract/errors.ts), never a stack trace — yargs' own
// failures and the parse errors it meets inside a command (an option without its value, a
// YError) alike; `--help` with no command given shows the help instead. Help is an ordinary
// option acted on after validation, so `PROGRAM nosuch --help` is an unknown command (exit 2),
// not the top-level help with exit 0. Each program prints the answer its own way.
import type { Argv } from 'yargs';

const HELP_INSTEAD = /^give a command|needs a subcommand|^Not enough non-option arguments|^Missing required argument/;

export type FailureAnswer = { help: true } | { help: false; message: string };

/**
 * How a yargs failure is answered; null when it is not a command-line mistake (an error a
 * handler threw: the caller rethrows it). `isUsageError`: the program's own usage errors.
 */
export function answerFailure(args: readonly string[], msg: string | null, err: Error | undefined, isUsageError: (e: Error) => boolean = () => false): FailureAnswer | null {
  if (err && err.name !== 'YError' && !isUsageError(err)) return null;
  const message = err?.message ?? msg ?? 'invalid command line';
  const wantsHelp = args.includes('--help') || args.includes('-h');
  return wantsHelp && HELP_INSTEAD.test(message) ? { help: true } : { help: false, message };
}

/** `--help`/`-h` as an ordinary option, acted on after validation (see above). */
export function helpAfterValidation<T>(cli: Argv<T>): Argv<T> {
  return cli
    .help(false)
    .option('help', { alias: 'h', type: 'boolean', global: true, describe: 'Show help' })
    .middleware((a) => {
      if (!a.help) return;
      cli.showHelp((s) => process.stdout.write(`${s}\n`));
      process.exit(0);
    }, false) as unknown as Argv<T>;
}
