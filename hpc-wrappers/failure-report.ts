// The one place that turns a failure into the contract's JSON error document, its exit
// code and one human line. Depends on no config code: start-env reports with it without
// loading hpc-wrap.yaml.
import { ConfigError } from '../config/config-error.js';
import type { AppLog } from './app-log.js';
import { asWrapError, errorDocument, WrapError } from './errors.js';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** A failure as the contract's error document and exit status; logged when a log exists. */
export function failureDocument(command: string, err: unknown, log: AppLog | null): { document: unknown; exitCode: number; message: string } {
  const e = err instanceof ConfigError ? new WrapError('internal', err.message) : asWrapError(err);
  log?.[e.code === 'internal' ? 'error' : 'warn'](`${command}.failed`, { code: e.code, message: e.message });
  if (e.code === 'internal' && !(err instanceof WrapError) && !(err instanceof ConfigError) && err instanceof Error && err.stack) {
    log?.debug(`${command}.stack`, { stack: err.stack });
  }
  return { document: errorDocument(e), exitCode: e.exitCode, message: e.message };
}

/** Reports a failure: JSON on stdout, one human line on stderr, a log line when a log exists. */
export function reportFailure(command: string, err: unknown, log: AppLog | null): number {
  const f = failureDocument(command, err, log);
  printJson(f.document);
  process.stderr.write(`hpc-wrap ${command}: ${f.message}\n`);
  return f.exitCode;
}
