// `config import` on every historical format of JHub-HPC-Interface's jh_config (fixtures
// written in each format: fixtures/legacy/README.md): bash arrays and strings, Slurm and
// CCS, the trailing-slash scratch_dir. The workload manager is told from the commands or
// the import fails (never a silent `fork`); run-time variables ($JUPYTERHUB_USER) never
// reach the written config; and `config check` refuses such a variable anywhere.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHpcWrapConfig, loadHubBridgeConfig } from '../../../config/load.js';
import { hpcWrapSchema } from '../../../config/schema.js';
import { importLegacyConfig, type ImportResult, type ReportRow } from '../../../hpc-wrappers/legacy-import/import-config.js';
import { parseShellConfig } from '../../../hpc-wrappers/legacy-import/shell-config-parser.js';
import { splitCommand } from '../../../hpc-wrappers/legacy-import/legacy-options.js';
import { buildBundle, HpcWrap, tempDir } from './support/hpc-wrap-bundle.js';

const LEGACY = resolve(import.meta.dirname, 'fixtures/legacy');
const read = (name: string) => readFileSync(join(LEGACY, name), 'utf8');
const load = (name: string, scheduler: string | null = null): ImportResult => importLegacyConfig(read(name), name, 'auto', { scheduler });
const rowOf = (r: ImportResult, name: string): ReportRow => r.rows.find((x) => x.option === name)!;
const optionNames = (text: string) => [...text.matchAll(/^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=/gm)].map((m) => m[1]!);

describe.each(['jh_config.ccs-arrays', 'jh_config.slurm-arrays', 'jh_config.ccs-strings', 'jh_config.slurm-strings'])('%s', (name) => {
  it('reports every option once, arrays included (also one continued over two lines)', () => {
    const r = load(name);
    expect(r.rows.map((x) => x.option)).toEqual(optionNames(read(name)));
  });

  it('never writes a run-time variable ($JUPYTERHUB_USER, $JOBID …) into the config', () => {
    const r = load(name, 'slurm');
    expect(JSON.stringify(r.hpc)).not.toMatch(/\$[A-Za-z_{]/);
    expect(JSON.stringify(r.hub)).not.toMatch(/\$[A-Za-z_{]/);
    const dir = tempDir();
    expect(() => loadHpcWrapConfig(join(dir, 'hpc-wrap.yaml'), r.hpc)).not.toThrow();
    expect(() => loadHubBridgeConfig(join(dir, 'hub-bridge.yaml'), r.hub)).not.toThrow();
  });
});

describe('bash arrays', () => {
  it('are read as the words of a command, across lines and with quotes', () => {
    const p = parseShellConfig(read('jh_config.ccs-arrays'));
    const v = (n: string) => p.options.find((o) => o.name === n)!;
    expect(splitCommand(v('cmd_job_state').value).words).toEqual(['ccsinfo', '-s', '--mine', '--raw', '--fmt=%w', '$1']);
    expect(splitCommand(v('cmd_job_get_mapped_node_filter').value).words).toEqual(['grep', '-o', '^cn[0-9][0-9]-[0-9][0-9][0-9]\\|^gpu[0-9][0-9][0-9]']);
    expect(splitCommand(v('cmd_job_get_mapped_node_filter').value).syntax).toBeNull(); // a quoted | is not a pipe
    expect(v('cmd_run_job').unresolved).toEqual(['JUPYTERHUB_USER']);
    expect(p.ignored.map((i) => i.text)).toEqual(['[[ ! -d $log_dir ]] && [[ $enable_logging ]] && mkdir -p $log_dir']);
  });

  it('with Slurm: sbatch is recognised and scancel mapped (no longer "not Slurm")', () => {
    const r = load('jh_config.slurm-arrays');
    expect(r.scheduler.kind).toBe('slurm');
    expect(r.hpc.scheduler).toEqual({ kind: 'slurm', submit: ['sbatch', '--parsable'], cancel: ['scancel'] });
    expect(rowOf(r, 'cmd_kill_job')).toMatchObject({ status: 'changed', targets: ['hpc-wrap.yaml scheduler.cancel'] });
    expect(rowOf(r, 'cmd_job_state').status).toBe('not needed');
  });
});

describe('an import that cannot tell the workload manager', () => {
  it.each(['jh_config.ccs-arrays', 'jh_config.ccs-strings'])('%s (CCS): says so, names CCS, and sets no scheduler (never fork)', (name) => {
    const r = load(name);
    expect(r.scheduler.kind).toBeNull();
    expect(r.scheduler.why).toMatch(/ccsalloc.*CCS.*known: slurm/s);
    expect(r.hpc.scheduler).toBeUndefined();
    expect(rowOf(r, 'cmd_run_job')).toMatchObject({ status: 'not mapped' });
  });

  it('a bare qsub belongs to Grid Engine, PBS Pro and Torque: ambiguous; -terse tells Grid Engine', () => {
    expect(importLegacyConfig("cmd_run_job='qsub'\ncmd_kill_job='qdel $JOBID'\n", 'x').scheduler).toMatchObject({ kind: null, why: expect.stringMatching(/several schedulers \(.*gridengine.*pbspro.*torque/) });
    const ge = importLegacyConfig("cmd_run_job='qsub -terse -cwd -o $scratch/x'\ncmd_kill_job='qdel $JOBID'\n", 'x');
    expect(ge.hpc.scheduler).toEqual({ kind: 'gridengine', submit: ['qsub'], cancel: ['qdel'] });
    expect(rowOf(ge, 'cmd_run_job').note).toMatch(/dropped -terse -cwd -o \$scratch\/x/);
  });

  it('--scheduler decides; a command of another scheduler keeps the default', () => {
    const r = load('jh_config.ccs-arrays', 'slurm');
    expect(r.hpc.scheduler).toEqual({ kind: 'slurm' });
    expect(rowOf(r, 'cmd_run_job').note).toMatch(/ccsalloc is not a Slurm submit command/);
    expect(rowOf(r, 'cmd_kill_job').status).toBe('not mapped');
  });
});

describe('the last shell generation: trailing slash and per-user paths', () => {
  const r = load('jh_config.slurm-strings');

  it('reads scratch_dir=/scratch/HPC_DIR/ (trailing slash and blank) without doubled slashes', () => {
    expect(r.hpc.workDir).toBe('/scratch/HPC_DIR');
    expect(r.hpc.homes).toEqual({ create: true, root: '/scratch/HPC_DIR/HOME_DIRECTORIES' });
    expect(JSON.stringify(r.hpc)).not.toContain('//');
  });

  it('maps webdav_mount_dir below $home_dir/$JUPYTERHUB_USER to {home}, reported as changed, not "mapped" with the variable', () => {
    expect((r.hpc.webdav as { mountDir: string }).mountDir).toBe('{home}/webdav_mount');
    expect(rowOf(r, 'webdav_mount_dir')).toMatchObject({ status: 'changed', targets: ['hpc-wrap.yaml webdav.mountDir'] });
  });

  it('leaves other per-user variables unmapped with the reason', () => {
    const t = importLegacyConfig('scratch_dir=/s\nlog_dir=$scratch_dir/log/$JUPYTERHUB_USER\nwebdav_mount_dir=/mnt/$JUPYTERHUB_USER/dav\ncmd_run_job=(sbatch)\n', 'x');
    expect(rowOf(t, 'log_dir')).toMatchObject({ status: 'not mapped' });
    expect(rowOf(t, 'log_dir').note).toMatch(/\$JUPYTERHUB_USER, which the old scripts filled in at run time/);
    expect(rowOf(t, 'webdav_mount_dir')).toMatchObject({ status: 'not mapped' });
    expect(JSON.stringify(t.hpc)).not.toContain('$');
  });
});

describe('config check refuses an unexpanded $VAR', () => {
  it('in a path, a command or a list, naming the key; free text and environment values may hold $', () => {
    const bad = hpcWrapSchema.safeParse({ workDir: '/scratch/$USER/hpc', homes: { root: '/home/${JUPYTERHUB_USER}' } });
    expect(bad.success).toBe(false);
    const issues = bad.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues).toEqual(expect.arrayContaining([expect.stringMatching(/^workDir: holds \$USER, which hpc-wrap never expands/), expect.stringMatching(/^homes\.root: holds \$\{JUPYTERHUB_USER\}/)]));
    expect(hpcWrapSchema.safeParse({ scheduler: { kind: 'slurm', cancel: ['scancel', '$JOBID'] } }).success).toBe(false);
    expect(hpcWrapSchema.safeParse({ maintenance: { message: 'Back at 14:00; costs $0' }, scheduler: { kind: 'slurm', env: { PATH: '/opt/slurm/bin:$PATH' } } }).success).toBe(true);
  });
});

describe('hpc-wrap config import (the CLI)', () => {
  let bundle: string;
  beforeAll(async () => {
    bundle = await buildBundle(tempDir());
  });
  afterAll(() => {});

  it('exits 2 and writes nothing when it cannot tell the workload manager; --scheduler makes it write', async () => {
    const dir = tempDir();
    const wrap = new HpcWrap(bundle, null);
    const out = join(dir, 'hpc-wrap.yaml');
    const r = await wrap.run(['config', 'import', join(LEGACY, 'jh_config.ccs-arrays'), '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot determine the workload manager: .*ccsalloc.*Nothing written\. Pass --scheduler slurm\|gridengine\|pbspro\|torque/s);
    expect(r.stdout).toMatch(/workload manager: cannot tell/);
    expect(existsSync(out)).toBe(false);
    const forced = await wrap.run(['config', 'import', join(LEGACY, 'jh_config.ccs-arrays'), '--out', out, '--scheduler', 'slurm']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/kind: slurm/);
  });

  it('the written file passes config check; one with $JUPYTERHUB_USER does not', async () => {
    const dir = tempDir();
    const wrap = new HpcWrap(bundle, null);
    const out = join(dir, 'hpc-wrap.yaml');
    expect((await wrap.run(['config', 'import', join(LEGACY, 'jh_config.slurm-strings'), '--out', out])).code).toBe(0);
    expect((await new HpcWrap(bundle, out).run(['config', 'check'])).code).toBe(0);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, stringify({ workDir: '/scratch/HPC_DIR', webdav: { mountDir: '/scratch/HPC_DIR/HOME_DIRECTORIES/$JUPYTERHUB_USER/webdav_mount' } }));
    const check = await new HpcWrap(bundle, bad).run(['config', 'check']);
    expect(check.code).not.toBe(0);
    expect(check.stdout + check.stderr).toMatch(/webdav\.mountDir.*\$JUPYTERHUB_USER, which hpc-wrap never expands/s);
  });
});
