// Reads the Python generation's `jh_config.ini` (configparser syntax): [sections],
// `key = value` / `key: value`, # and ; comment lines, indented continuation lines, and
// ${section:key} / ${key} interpolation (ExtendedInterpolation; $$ is a literal $). The
// file documents '%%' as the escape of '%', so '%%' becomes '%'. $JOBID-style words are
// left for the report: they were filled in at run time by the old wrapper.
import type { IgnoredLine, LegacyOption, ParsedLegacyConfig } from './legacy-options.js';

interface RawOption {
  section: string;
  name: string;
  line: number;
  raw: string;
}

const SECTION = /^\[([^\]]+)\]\s*$/;
const OPTION = /^([^=:\s][^=:]*?)\s*[=:]\s?(.*)$/;

export function parseIniConfig(text: string): ParsedLegacyConfig {
  const raws: RawOption[] = [];
  const ignored: IgnoredLine[] = [];
  let section: string | null = null;
  let last: RawOption | null = null;
  text.split(/\r?\n/).forEach((full, idx) => {
    const lineNo = idx + 1;
    const line = full.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) {
      if (!line) last = null;
      return;
    }
    if (/^\s/.test(full) && last) {
      last.raw += `\n${line}`; // a continuation line
      return;
    }
    const s = SECTION.exec(line);
    if (s) {
      section = s[1]!.trim();
      last = null;
      return;
    }
    const o = OPTION.exec(line);
    if (!o || section === null) {
      ignored.push({ line: lineNo, text: line, why: section === null ? 'an option outside any [section]' : 'not a key = value line' });
      return;
    }
    last = { section, name: o[1]!.trim().toLowerCase(), line: lineNo, raw: o[2]!.trim() };
    raws.push(last);
  });
  const lookup = (sec: string, key: string) =>
    [...raws].reverse().find((r) => r.section === sec && r.name === key) ?? [...raws].reverse().find((r) => r.section === 'DEFAULT' && r.name === key);
  return { generation: 'ini', options: raws.map((r) => interpolate(r, lookup)), ignored };
}

function interpolate(r: RawOption, lookup: (sec: string, key: string) => RawOption | undefined): LegacyOption {
  const unresolved = new Set<string>();
  const expand = (value: string, section: string, depth: number): string =>
    value.replace(/\$\$|\$\{([^}]*)\}|%%/g, (whole, ref: string | undefined) => {
      if (whole === '$$') return '$';
      if (whole === '%%') return '%';
      const [sec, key] = ref!.includes(':') ? ref!.split(':', 2) : [section, ref!];
      const target = lookup(sec!, key!.toLowerCase());
      if (!target || depth > 10) {
        unresolved.add(ref!);
        return whole;
      }
      return expand(target.raw, target.section, depth + 1);
    });
  const value = expand(r.raw, r.section, 0);
  for (const m of value.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)/g)) unresolved.add(m[1]!);
  return { name: r.name, section: r.section, line: r.line, raw: r.raw, value, unresolved: [...unresolved], commandSubstitution: false };
}

/** The ini generation has [sections]; the shell generation never does. */
export function looksLikeIni(text: string): boolean {
  return text.split(/\r?\n/).some((l) => SECTION.test(l.trim()));
}
