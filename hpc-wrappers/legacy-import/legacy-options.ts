// The options of a legacy JHub-HPC-Interface config as text, whichever generation they
// came from, plus the small helpers both parsers and the mapping share.

export interface LegacyOption {
  /** The option name (lower case for ini; as written for the shell file). */
  name: string;
  /** The ini section, or null for the shell generation. */
  section: string | null;
  line: number;
  /** The value as written (after the `=`), for the report. */
  raw: string;
  /** The value with references to other options resolved; unknown ones stay as $NAME. */
  value: string;
  /** Variables the value refers to that are not options of the file ($JUPYTERHUB_USER, $JOBID, ...). */
  unresolved: string[];
  /** The value contains $(...) or `...`: a command the old scripts ran; never run here. */
  commandSubstitution: boolean;
}

export interface IgnoredLine {
  line: number;
  text: string;
  why: string;
}

export interface ParsedLegacyConfig {
  generation: 'shell' | 'ini';
  options: LegacyOption[];
  ignored: IgnoredLine[];
}

export const qualifiedName = (o: LegacyOption): string => (o.section ? `[${o.section}] ${o.name}` : o.name);

const REF = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/** The variables `$NAME` / `${NAME}` a text still refers to. */
export function referencedNames(text: string): string[] {
  return [...new Set([...text.matchAll(REF)].map((m) => (m[1] ?? m[2])!))];
}

/** One word as a shell would read it back (splitCommand): bare when safe, else single-quoted. */
export function shellWord(word: string): string {
  return /^[^\s'"\\`|;&<>()]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Replaces $NAME / ${NAME} that `known` defines; returns the text and the names it did not
 * know. A value ending in "/" before a "/" (`scratch_dir=/x/` + `$scratch_dir/y`) loses
 * that slash: the old files joined paths that way.
 */
export function expandShellRefs(text: string, known: ReadonlyMap<string, string>): { text: string; unresolved: string[] } {
  const unresolved: string[] = [];
  const out = text.replace(REF, (whole, braced: string | undefined, bare: string | undefined, offset: number) => {
    const name = (braced ?? bare)!;
    const v = known.get(name);
    if (v !== undefined) return v.endsWith('/') && text[offset + whole.length] === '/' ? v.replace(/\/+$/, '') : v;
    unresolved.push(name);
    return whole;
  });
  return { text: out, unresolved: [...new Set(unresolved)] };
}

export function parseBool(value: string): boolean | null {
  const v = value.trim().toLowerCase();
  if (['true', 'yes', 'on', '1'].includes(v)) return true;
  if (['false', 'no', 'off', '0', ''].includes(v)) return false;
  return null;
}

/**
 * A command string split into words the way a shell would for simple commands (quotes,
 * backslashes); `syntax` names the first construct that needs a real shell (pipes,
 * redirections, `;`, `&&`, command substitution), which no argv can express.
 */
export function splitCommand(command: string): { words: string[]; syntax: string | null } {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let syntax: string | null = null;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (c === "'") {
      const end = command.indexOf("'", i + 1);
      cur += command.slice(i + 1, end < 0 ? undefined : end);
      inWord = true;
      i = end < 0 ? command.length : end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < command.length && command[j] !== '"'; j++) {
        if (command[j] === '\\' && j + 1 < command.length) j++;
        cur += command[j];
      }
      inWord = true;
      i = j;
    } else if (c === '\\' && i + 1 < command.length) {
      cur += command[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      if (!syntax && (/[|;&<>`]/.test(c) || command.startsWith('$(', i))) syntax = c === '$' ? '$(' : c;
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return { words, syntax };
}
