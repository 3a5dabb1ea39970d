// Reads what Lmod's machine interface prints for `lmod python load ...` WITHOUT running it.
//
// Observed with Debian's lmod 8.6.19 (shells/Python.lua): stdout is
//   import os
//   os.environ["NAME"] = "VALUE";                 (set)
//   os.environ["NAME"] = ''                        (unset: these two lines)
//   del os.environ["NAME"]
//   _mlstatus = True                               (False on error, then exit status 1)
// Names and values are quoted by Lua 5.3's %q — NOT Python's rules: `\"`, `\\`, a
// backslash before a real newline, and DECIMAL escapes `\9` `\13` `\0019` for control
// bytes (Python would read them as octal). Errors go to stderr as
//   Lmod has detected the following error: The following module(s) are unknown:
//   "nosuch/1.0"
// Aliases, shell functions and execute{} of modulefiles are not printed in this mode.
import type { EnvChange } from './env-changes.js';

export class LmodOutputError extends Error {}

export interface LmodOutput {
  changes: EnvChange[];
  /** `_mlstatus`: true, false, or null when Lmod printed none. */
  status: boolean | null;
}

/** Decodes a Lua %q string starting at text[i] (a `"`); text holds one char per byte. */
function readQuoted(text: string, i: number): { value: string; end: number } {
  if (text[i] !== '"') throw new LmodOutputError('expected a quoted string');
  const bytes: number[] = [];
  let j = i + 1;
  for (;;) {
    if (j >= text.length) throw new LmodOutputError('unterminated string');
    const c = text[j]!;
    if (c === '"') break;
    if (c !== '\\') {
      bytes.push(c.charCodeAt(0));
      j++;
      continue;
    }
    const n = text[j + 1];
    if (n === undefined) throw new LmodOutputError('unterminated escape');
    const simple: Record<string, number> = { '\n': 10, '\\': 92, '"': 34, "'": 39, n: 10, r: 13, t: 9, a: 7, b: 8, f: 12, v: 11 };
    if (n in simple) {
      bytes.push(simple[n]!);
      j += 2;
      continue;
    }
    const digits = /^[0-9]{1,3}/.exec(text.slice(j + 1, j + 4));
    if (!digits || Number(digits[0]) > 255) throw new LmodOutputError(`unknown escape \\${n}`);
    bytes.push(Number(digits[0]));
    j += 1 + digits[0].length;
  }
  return { value: Buffer.from(bytes).toString('utf8'), end: j + 1 };
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkName(name: string): string {
  if (!NAME_RE.test(name)) throw new LmodOutputError(`not a variable name: ${JSON.stringify(name.slice(0, 60))}`);
  return name;
}

/** Parses Lmod's python-mode stdout (a Buffer or a latin1 string: one char per byte). */
export function parseLmodPython(output: Buffer | string): LmodOutput {
  const text = typeof output === 'string' ? output : output.toString('latin1');
  const changes: EnvChange[] = [];
  let status: boolean | null = null;
  let i = 0;
  const rest = () => text.slice(i);
  const expect = (s: string) => {
    if (!text.startsWith(s, i)) throw new LmodOutputError(`unexpected output from Lmod near ${JSON.stringify(rest().split('\n')[0]!.slice(0, 80))}`);
    i += s.length;
  };
  while (i < text.length) {
    if (text[i] === '\n' || text[i] === ' ' || text[i] === '\t') {
      i++;
      continue;
    }
    const m = /^(import os|_mlstatus = (True|False))[ \t]*(\n|$)/.exec(rest());
    if (m) {
      if (m[2]) status = m[2] === 'True';
      i += m[0].length;
      continue;
    }
    expect('os.environ[');
    const key = readQuoted(text, i);
    i = key.end;
    const name = checkName(key.value);
    expect('] = ');
    if (text.startsWith("''", i)) {
      i += 2;
      expect('\ndel os.environ[');
      const again = readQuoted(text, i);
      if (again.value !== name) throw new LmodOutputError(`unset of ${name} names ${again.value}`);
      i = again.end;
      expect(']');
      changes.push({ name, value: null });
      continue;
    }
    const val = readQuoted(text, i);
    i = val.end;
    expect(';');
    changes.push({ name, value: val.value });
  }
  return { changes, status };
}

/** The module names Lmod reports as unknown (stderr), in order. */
export function unknownModules(stderr: string): string[] {
  const m = /The following module\(s\) are unknown:([\s\S]*?)(\n\s*\n|$)/.exec(stderr);
  if (!m) return [];
  return [...m[1]!.matchAll(/"([^"\n]+)"/g)].map((x) => x[1]!);
}

/** Lmod's error text without its banner and advice lines, for a one-line message. */
export function lmodErrorText(stderr: string): string {
  const lines = stderr
    .replace(/^Lmod has detected the following error:\s*/m, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const cut = lines.findIndex((l) => /^(While processing the following module|Please check the spelling|Also make sure)/.test(l));
  return (cut > 0 ? lines.slice(0, cut) : lines).join(' ').slice(0, 600);
}
