// Name escaping as startjob uses it, and the quoting of the rendered batch script.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { escapeName, unescapeName, validateUsername } from '../../../contract/names.js';
import { Layout } from '../../../hpc-wrappers/layout.js';
import { renderBatchScript, shQuote } from '../../../hpc-wrappers/startjob/batch-script.js';

describe('escaped user names in paths', () => {
  it.each([
    ['alice', 'alice'],
    ['Alice', '_41lice'],
    ['a.b_c@d+e-f', 'a_2eb_5fc_40d_2be-f'],
    ['zoë', 'zo_c3_ab'],
    ['用户', '_e7_94_a8_e6_88_b7'],
  ])('%s → %s, and back', (name, escaped) => {
    expect(escapeName(validateUsername(name))).toBe(escaped);
    expect(unescapeName(escaped)).toBe(name);
  });

  it('keeps every run dir inside workDir, even for names that look like paths after NFC', () => {
    const layout = new Layout({ workDir: '/w', homes: { create: true, root: '/h' } });
    const p = layout.session('e\u0301.x', 's-aaaaaaaaaaaaaaaaaaaaaaaaaa');
    expect(p.runDir).toBe('/w/users/e_cc_81_2ex/sessions/s-aaaaaaaaaaaaaaaaaaaaaaaaaa');
    expect(layout.homeDir('Bob')).toBe('/h/_42ob');
    expect(layout.contains(p.runDir)).toBe(true);
    expect(layout.contains('/w/../etc')).toBe(false);
    expect(layout.contains('/w')).toBe(false);
  });
});

describe('batch script', () => {
  it('single-quotes every word so /bin/sh passes it through unchanged', () => {
    const words = ["it's", '$(id)', '`id`', 'a b', '"q"', '\\', '*', ''];
    const r = spawnSync('/bin/sh', ['-c', `printf '%s\\n' ${words.map(shQuote).join(' ')}`], { encoding: 'utf8' });
    expect(r.stdout).toBe(`${words.join('\n')}\n`);
  });

  it('refuses a word with a newline or NUL', () => {
    expect(() => shQuote('a\nb')).toThrow(/newline/);
    expect(() => shQuote('a\0b')).toThrow(/NUL/);
  });

  it('is the shebang plus one exec line', () => {
    expect(renderBatchScript({ hpcWrap: ['/usr/bin/node', '/opt/hpc wrap.mjs'], configPath: '/etc/h.yaml', runDir: '/w/r' })).toBe(
      "#!/bin/sh\nexec '/usr/bin/node' '/opt/hpc wrap.mjs' '--config' '/etc/h.yaml' 'start-env' '--run-dir' '/w/r'\n",
    );
    expect(renderBatchScript({ hpcWrap: ['hpc-wrap'], configPath: null, runDir: '/w/r' })).toBe("#!/bin/sh\nexec 'hpc-wrap' 'start-env' '--run-dir' '/w/r'\n");
  });
});
