// `conda shell.posix activate` output read as data (conda's PosixActivator templates:
// export X='v', unset X, X='v' for PS1, . "script"), and the conda section's schema.
import { describe, expect, it } from 'vitest';
import { condaSchema } from '../../../config/schema-software.js';
import { condaRoot, envDisplayName, parsePosixActivate, prefixActivation } from '../../../hpc-wrappers/start-env/conda-activation.js';

// What conda 23.x prints for `conda shell.posix activate myenv` at CONDA_SHLVL=1 (stacked
// on base): export_path, unset_vars, set_vars (PS1), export_vars, activate scripts.
const CONDA_OUTPUT = [
  "export PATH='/opt/conda/envs/myenv/bin:/opt/conda/condabin:/usr/bin:/bin'",
  'unset _CE_M',
  "PS1='(myenv) '",
  "export CONDA_PREFIX='/opt/conda/envs/myenv'",
  "export CONDA_SHLVL='2'",
  "export CONDA_DEFAULT_ENV='myenv'",
  "export CONDA_PROMPT_MODIFIER='(myenv) '",
  "export CONDA_PREFIX_1='/opt/conda'",
  "export CONDA_EXE='/opt/conda/bin/conda'",
  "export _CE_CONDA=''",
  '. "/opt/conda/envs/myenv/etc/conda/activate.d/libxml2_activate.sh"',
  '',
].join('\n');

describe('conda activation', () => {
  it('reads exports, unsets and activate.d scripts; ignores PS1', () => {
    const a = parsePosixActivate(CONDA_OUTPUT);
    expect(a.changes).toEqual([
      { name: 'PATH', value: '/opt/conda/envs/myenv/bin:/opt/conda/condabin:/usr/bin:/bin' },
      { name: '_CE_M', value: null },
      { name: 'CONDA_PREFIX', value: '/opt/conda/envs/myenv' },
      { name: 'CONDA_SHLVL', value: '2' },
      { name: 'CONDA_DEFAULT_ENV', value: 'myenv' },
      { name: 'CONDA_PROMPT_MODIFIER', value: '(myenv) ' },
      { name: 'CONDA_PREFIX_1', value: '/opt/conda' },
      { name: 'CONDA_EXE', value: '/opt/conda/bin/conda' },
      { name: '_CE_CONDA', value: '' },
    ]);
    expect(a.scripts).toEqual(['/opt/conda/envs/myenv/etc/conda/activate.d/libxml2_activate.sh']);
  });

  it('never runs anything: command substitutions stay text, other shell code is refused', () => {
    expect(parsePosixActivate("export X='$(touch /tmp/pwned)'\n").changes).toEqual([{ name: 'X', value: '$(touch /tmp/pwned)' }]);
    expect(() => parsePosixActivate('eval "$(something)"\n')).toThrow(/unexpected line/);
    expect(() => parsePosixActivate("export X='a'; rm -rf /\n")).toThrow(/unexpected line|unterminated/);
    expect(() => parsePosixActivate("export X='no end\n")).toThrow(/unterminated/);
  });

  it('computes a first activation by prefix like conda does', () => {
    const a = prefixActivation('/scratch/env', 'demo', { PATH: '/usr/bin' });
    expect(Object.fromEntries(a.changes.map((c) => [c.name, c.value]))).toEqual({
      PATH: '/scratch/env/bin:/usr/bin',
      CONDA_PREFIX: '/scratch/env',
      CONDA_SHLVL: '1',
      CONDA_DEFAULT_ENV: 'demo',
      CONDA_PROMPT_MODIFIER: '(demo) ',
    });
    expect(condaRoot('/opt/miniconda3/etc/profile.d/conda.sh')).toBe('/opt/miniconda3');
    expect(envDisplayName('/home/a/notebooks-sharing.tar.gz')).toBe('notebooks-sharing');
  });

  it('the schema needs one of env/pack/yml, not pack and yml together, absolute paths', () => {
    expect(condaSchema.safeParse({}).success).toBe(false);
    const both = condaSchema.safeParse({ pack: '/a.tar.gz', yml: '/e.yml' });
    expect(both.success).toBe(false);
    expect(both.error!.issues[0]).toMatchObject({ path: ['yml'], message: 'give either pack or yml, not both' });
    expect(condaSchema.safeParse({ pack: 'relative.tar.gz' }).success).toBe(false);
    expect(condaSchema.safeParse({ env: '--help' }).success).toBe(false);
    expect(condaSchema.parse({ env: 'myenv' })).toMatchObject({ init: null, scratch: null, keepScratch: false, useMamba: false });
  });
});
