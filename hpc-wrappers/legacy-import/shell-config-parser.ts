// Reads the shell generation's `jh_config` (a file the old scripts `source`d) as TEXT:
// KEY=value, KEY="value", KEY='value', bash arrays KEY=(word "word" ...) (the first
// generation's commands, possibly over several lines), `export KEY=...`, comments, $var /
// ${var} references to options defined earlier. It is never sourced or evaluated: $(...)
// and backticks stay text, and every other shell statement (conditions, functions) is
// listed as ignored with the reason.
import { expandShellRefs, referencedNames, shellWord, type IgnoredLine, type LegacyOption, type ParsedLegacyConfig } from './legacy-options.js';

/** `space` separates the words of an array value (one space in the joined value, a word boundary in `words`). */
type Segment = { kind: 'single' | 'double' | 'bare' | 'space'; text: string };

interface Scan {
  segments: Segment[];
  end: number;
  commandSubstitution: boolean;
  /** Text after the value on the same line that is not a comment (KEY=v command ...). */
  trailing: string;
  /** Where the scanned word ends (for the words of an array). */
  wordEnd: number;
  /** A bash array value: true (its words are separated by `space` segments). */
  array: boolean;
}

/** Index of the `)` closing the `$(` whose `(` is at `open`, or -1. */
function closingParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return i;
  }
  return -1;
}

/**
 * A bash array `(w1 "w 2" 'w3')` starting at `pos` (the `(`): its words up to the matching
 * `)`, which may be lines later; `#` starts a comment between words.
 */
function scanArray(text: string, pos: number): Scan {
  const segments: Segment[] = [];
  let i = pos + 1;
  let subst = false;
  while (i < text.length && text[i] !== ')') {
    const c = text[i]!;
    if (/\s/.test(c)) i++;
    else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else {
      const word = scanValue(text, i, true);
      subst ||= word.commandSubstitution;
      if (segments.length) segments.push({ kind: 'space', text: ' ' });
      segments.push(...word.segments);
      i = Math.max(word.wordEnd, i + 1);
    }
  }
  const lineEnd = text.indexOf('\n', i) < 0 ? text.length : text.indexOf('\n', i);
  const rest = text.slice(Math.min(i + 1, text.length), lineEnd).trim();
  return { segments, end: lineEnd, wordEnd: lineEnd, commandSubstitution: subst, trailing: rest.startsWith('#') ? '' : rest, array: true };
}

/** Scans one value starting at `pos` (just after `=`); quotes may span lines. In an array, `)` also ends a word. */
function scanValue(text: string, pos: number, inArray = false): Scan {
  if (!inArray && text[pos] === '(') return scanArray(text, pos);
  const ends = inArray ? /[\s)]/ : /\s/;
  const bareEnds = inArray ? /[\s'"`\\)]/ : /[\s'"`\\]/;
  const segments: Segment[] = [];
  let i = pos;
  let subst = false;
  const push = (kind: Segment['kind'], s: string) => segments.push({ kind, text: s });
  while (i < text.length && !ends.test(text[i]!)) {
    const c = text[i]!;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      const stop = end < 0 ? text.length : end;
      push('single', text.slice(i + 1, stop));
      i = stop + 1;
    } else if (c === '"') {
      let s = '';
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && /["\\$`]/.test(text[j + 1] ?? '')) j++;
        else if (text.startsWith('$(', j) || text[j] === '`') subst = true;
        s += text[j];
      }
      push('double', s);
      i = j + 1;
    } else if (text.startsWith('$(', i)) {
      const end = closingParen(text, i + 1);
      const stop = end < 0 ? text.length : end + 1;
      push('bare', text.slice(i, stop));
      subst = true;
      i = stop;
    } else if (c === '`') {
      const end = text.indexOf('`', i + 1);
      const stop = end < 0 ? text.length : end + 1;
      push('bare', text.slice(i, stop));
      subst = true;
      i = stop;
    } else if (c === '\\' && i + 1 < text.length) {
      push('single', text[i + 1]!);
      i += 2;
    } else {
      let j = i;
      while (j < text.length && !bareEnds.test(text[j]!) && !text.startsWith('$(', j)) j++;
      push('bare', text.slice(i, j));
      i = j;
    }
  }
  const lineEnd = text.indexOf('\n', i) < 0 ? text.length : text.indexOf('\n', i);
  const rest = text.slice(i, lineEnd).trim();
  return { segments, end: lineEnd, wordEnd: i, commandSubstitution: subst, trailing: rest.startsWith('#') ? '' : rest, array: false };
}

const ASSIGNMENT = /^(export\s+)?([A-Za-z_][A-Za-z0-9_]*)=/;
const FUNCTION = /^(function\s+[A-Za-z_][\w-]*|[A-Za-z_][\w-]*\s*\(\s*\))/;

export function parseShellConfig(text: string): ParsedLegacyConfig {
  const found: { name: string; line: number; raw: string; scan: Scan }[] = [];
  const ignored: IgnoredLine[] = [];
  const lineAt = (pos: number) => text.slice(0, pos).split('\n').length;
  let pos = 0;
  while (pos < text.length) {
    const eol = text.indexOf('\n', pos) < 0 ? text.length : text.indexOf('\n', pos);
    const line = text.slice(pos, eol).trim();
    const lineNo = lineAt(pos);
    const indent = text.slice(pos, eol).length - text.slice(pos, eol).trimStart().length;
    if (!line || line.startsWith('#')) {
      pos = eol + 1;
      continue;
    }
    if (FUNCTION.test(line)) {
      // A function body ends at a `}` alone on a line (the style of jh_config).
      const close = /^\}\s*$/m.exec(text.slice(eol));
      const end = close ? eol + close.index + close[0].length : text.length;
      ignored.push({ line: lineNo, text: line, why: `a shell function (lines ${lineNo}-${lineAt(end)}): hpc-wrap logs by itself and never runs the config` });
      pos = end + 1;
      continue;
    }
    const m = ASSIGNMENT.exec(line);
    if (!m) {
      ignored.push({ line: lineNo, text: line, why: 'a shell statement, not an option: hpc-wrap reads the file as text and never runs it' });
      pos = eol + 1;
      continue;
    }
    const valueStart = pos + indent + m[0].length;
    const scan = scanValue(text, valueStart);
    if (scan.trailing) {
      ignored.push({ line: lineNo, text: line, why: 'an assignment in front of a command, not an option' });
    } else {
      found.push({ name: m[2]!, line: lineNo, raw: text.slice(valueStart, scan.end).replace(/\s+#.*$/, '').trim(), scan });
    }
    pos = scan.end + 1;
  }
  return { generation: 'shell', options: resolveValues(found), ignored };
}

/** An array's words as one command line that splitCommand() reads back into the same words. */
function joinArray(segments: readonly Segment[], texts: readonly string[]): string {
  const words: string[] = [''];
  segments.forEach((s, i) => {
    if (s.kind === 'space') words.push('');
    else words[words.length - 1] += texts[i]!;
  });
  return words.map(shellWord).join(' ');
}

/**
 * Double-quoted and bare text sees the options defined above it (as `source` would);
 * single-quoted text is expanded with every option, because the old scripts `eval`ed those
 * values later, when the whole file had been read. A variable still in the value after
 * that (also one that came in through another option, like $JUPYTERHUB_USER in
 * `$user_home_dir/x`) is listed as unresolved: the old scripts filled it in at run time.
 */
function resolveValues(found: { name: string; line: number; raw: string; scan: Scan }[]): LegacyOption[] {
  const known = new Map<string, string>();
  const firstPass = found.map((f) => {
    const unresolved = new Set<string>();
    const parts = f.scan.segments.map((s) => {
      if (s.kind === 'single' || s.text.startsWith('$(') || s.text.startsWith('`')) return s.text;
      const r = expandShellRefs(s.text, known);
      r.unresolved.forEach((u) => unresolved.add(u));
      return r.text;
    });
    known.set(f.name, f.scan.array ? parts.filter((_, i) => f.scan.segments[i]!.kind !== 'space').join(' ') : parts.join(''));
    return { parts, unresolved };
  });
  return found.map((f, idx) => {
    const { parts, unresolved } = firstPass[idx]!;
    const texts = f.scan.segments.map((s, i) => {
      if (s.kind !== 'single') return parts[i]!;
      const r = expandShellRefs(s.text, known);
      r.unresolved.forEach((u) => unresolved.add(u));
      return r.text;
    });
    const value = f.scan.array ? joinArray(f.scan.segments, texts) : texts.join('');
    for (const name of referencedNames(value)) if (!known.has(name)) unresolved.add(name);
    return { name: f.name, section: null, line: f.line, raw: f.raw, value, unresolved: [...unresolved], commandSubstitution: f.scan.commandSubstitution };
  });
}
