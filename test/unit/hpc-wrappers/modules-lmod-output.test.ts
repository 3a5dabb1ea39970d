// Reading Lmod's python-mode output as data. The fixtures were printed by Debian's lmod
// 8.6.19 (Lua 5.3); see fixtures/README.md.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lmodErrorText, parseLmodPython, unknownModules } from '../../../hpc-wrappers/start-env/lmod-output.js';
import { FIXTURES } from './support/hpc-wrap-bundle.js';

const fixture = (name: string) => readFileSync(join(FIXTURES, 'lmod', name));

describe('Lmod python output', () => {
  it('decodes sets, unsets, continued lines and Lua decimal escapes (not Python octal)', () => {
    const out = parseLmodPython(fixture('load-bar-ctrl.stdout'));
    const env = Object.fromEntries(out.changes.map((c) => [c.name, c.value]));
    expect(out.status).toBe(true);
    expect(env.BAR).toBe('line1\nline2');
    expect(env.FOO_QUOTE).toBe('it\'s "quoted" \\ back $HOME `x`');
    expect(env.CTRL).toBe('a\tb\rc\x01d\0\x019e');
    expect(env.UNI).toBe('hé');
    expect(env.PATH).toBe('/opt/foo/1.0/bin:/usr/bin:/bin');
    expect(env.LOADEDMODULES).toBe('foo/1.0:bar/2:ctrl/1');
    expect(out.changes).toContainEqual({ name: 'REMOVE_ME', value: null });
  });

  it('reads the failure: _mlstatus False and the unknown module from stderr', () => {
    expect(parseLmodPython(fixture('load-unknown.stdout'))).toEqual({ changes: [], status: false });
    const stderr = fixture('load-unknown.stderr').toString('utf8');
    expect(unknownModules(stderr)).toEqual(['nosuch/1.0']);
    expect(lmodErrorText(stderr)).toBe('The following module(s) are unknown: "nosuch/1.0"');
  });

  it('refuses anything that is not one of the statements Lmod prints', () => {
    expect(() => parseLmodPython('import os\nos.system("rm -rf /")\n')).toThrow(/unexpected output from Lmod/);
    expect(() => parseLmodPython('os.environ["A"] = "x" + __import__("os").getcwd();\n')).toThrow(/unexpected output/);
    expect(() => parseLmodPython('os.environ["A;B"] = "x";\n')).toThrow(/not a variable name/);
    expect(() => parseLmodPython('os.environ["A"] = "unterminated;\n')).toThrow(/unterminated/);
    expect(() => parseLmodPython('os.environ["A"] = \'\'\ndel os.environ["B"]\n')).toThrow(/unset of A names B/);
  });
});
