// The batch script hpc-wrap renders for a `resources` request. It carries no
// user-controlled text: only the hpc-wrap command, the config path and the run dir
// (made of the escaped user name and a validated session id), each single-quoted.
import { WrapError } from '../errors.js';

/** Quotes one word for /bin/sh: inside single quotes nothing is special except ' itself. */
export function shQuote(word: string): string {
  if (/[\n\r\0]/.test(word)) {
    throw new WrapError('internal', `cannot put a word with a newline or NUL into the batch script: ${JSON.stringify(word.slice(0, 80))}`);
  }
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface BatchScriptInput {
  /** argv that runs hpc-wrap on the compute node. */
  hpcWrap: string[];
  /** Absolute config path, or null for the embedded defaults. */
  configPath: string | null;
  runDir: string;
}

/** `hpc-wrap [--config F] start-env --run-dir D`, quoted for /bin/sh. */
export function startEnvCommandLine(input: BatchScriptInput): string {
  const words = [...input.hpcWrap];
  if (input.configPath) words.push('--config', input.configPath);
  words.push('start-env', '--run-dir', input.runDir);
  return words.map(shQuote).join(' ');
}

export function renderBatchScript(input: BatchScriptInput): string {
  return ['#!/bin/sh', `exec ${startEnvCommandLine(input)}`, ''].join('\n');
}
