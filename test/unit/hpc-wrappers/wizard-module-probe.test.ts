// What the wizard learns from the real Lmod (Debian's lmod) about the modules answered: the
// line shown before the question, a missing module named with the versions Lmod has, the
// MODULEPATH directories written as modules.modulePath (only those holding the answers),
// and a login node without Lmod said as such. Module trees of this test, no shell.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { moduleDirs, moduleDoubt, modulesHint, parseTerseAvail } from '../../../hpc-wrappers/wizard/module-probe.js';
import { tempDir } from './support/hpc-wrap-bundle.js';

let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  dir = tempDir('wizard-modules-');
  for (const [tree, mod] of [['core', 'python/3.11'], ['core', 'python/3.12'], ['core', 'gcc/13'], ['site', 'python/3.10'], ['site', 'apptainer/1.3']] as const) {
    mkdirSync(join(dir, tree, dirname(mod)), { recursive: true });
    writeFileSync(join(dir, tree, `${mod}.lua`), `whatis("${mod}")\n`);
  }
  mkdirSync(join(dir, 'empty'));
  env = { PATH: '/usr/bin:/bin', HOME: dir, MODULEPATH: ['core', 'site', 'empty'].map((t) => join(dir, t)).join(':') };
});

describe('the wizard and Lmod', () => {
  it('reads Lmod\'s terse listing: directories, families and versions, markers dropped', () => {
    expect(parseTerseAvail('/a:\ngcc/\ngcc/13\npython/3.12(default)\n/b:\nsolo\n')).toEqual([
      { dir: '/a', name: 'gcc/' },
      { dir: '/a', name: 'gcc/13' },
      { dir: '/a', name: 'python/3.12' },
      { dir: '/b', name: 'solo' },
    ]);
  });

  it('shows what module avail lists before the question', async () => {
    expect(await modulesHint(env)).toBe('Lmod finds 5 module(s) here: gcc/13, python/3.11, python/3.12, apptainer/1.3, python/3.10');
    expect(await modulesHint({ ...env, MODULEPATH: join(dir, 'empty') })).toBe(`Lmod finds no modules here (MODULEPATH: ${join(dir, 'empty')}; a login shell sets it)`);
  });

  it('a module Lmod does not find is named with the versions of that name it has; found ones are no doubt', async () => {
    expect(await moduleDoubt(['python/3.11', 'apptainer/1.3'], env)).toBeNull();
    expect(await moduleDoubt(['python/3.9', 'gcc/13'], env)).toBe(
      `Lmod does not find python/3.9 here (MODULEPATH: ${env.MODULEPATH}); it has python/3.11, python/3.12, python/3.10; check the name with "module avail"`,
    );
    expect(await moduleDoubt(['nosuch'], env)).toBe(`Lmod does not find nosuch here (MODULEPATH: ${env.MODULEPATH}); check the name with "module avail"`);
  });

  it('modulePath: the directories that hold the modules answered, in MODULEPATH order, none other', async () => {
    expect(await moduleDirs(['apptainer/1.3'], env)).toEqual([join(dir, 'site')]);
    expect(await moduleDirs(['python', 'apptainer/1.3'], env)).toEqual([join(dir, 'core'), join(dir, 'site')]); // a bare family name: every tree that has it
    expect(await moduleDirs(['gcc/13'], env)).toEqual([join(dir, 'core')]);
    expect(await moduleDirs([], env)).toEqual([]);
  });

  it('a login node without Lmod: said before the question, and an answer cannot be checked', async () => {
    const none = { ...env, LMOD_CMD: join(dir, 'no-lmod') };
    expect(await modulesHint(none)).toBe(`Lmod cannot be asked here (${join(dir, 'no-lmod')} cannot be run: ENOENT): module names cannot be checked (install Lmod, e.g. Debian's lmod package, or set LMOD_CMD)`);
    expect(await moduleDoubt(['python/3.11'], none)).toBe(`the modules could not be checked: ${join(dir, 'no-lmod')} cannot be run: ENOENT (install Lmod, e.g. Debian's lmod package, or set LMOD_CMD)`);
    expect(await moduleDirs(['python/3.11'], none)).toEqual([]);
  });
});
