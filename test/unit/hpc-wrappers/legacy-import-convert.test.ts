// Converting the two generations of JHub-HPC-Interface configs: every option reported,
// the result accepted by the loaders, the mappings that change meaning explained, and the
// legacy file treated as text (never run, secrets never repeated).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadHpcWrapConfig, loadHubBridgeConfig } from '../../../config/load.js';
import { importLegacyConfig, type ImportResult, type ReportRow } from '../../../hpc-wrappers/legacy-import/import-config.js';
import { parseIniConfig } from '../../../hpc-wrappers/legacy-import/ini-config-parser.js';
import { parseShellConfig } from '../../../hpc-wrappers/legacy-import/shell-config-parser.js';
import { tempDir } from './support/hpc-wrap-bundle.js';

const LEGACY = resolve(import.meta.dirname, 'fixtures/legacy');
const SHELL = join(LEGACY, 'jh_config');
const INI = join(LEGACY, 'jh_config.ini');

const load = (file: string): ImportResult => importLegacyConfig(readFileSync(file, 'utf8'), file);
const rowOf = (r: ImportResult, name: string): ReportRow => {
  const row = r.rows.find((x) => x.option === name || x.option.endsWith(`] ${name}`));
  if (!row) throw new Error(`no report row for ${name}`);
  return row;
};

/** Option names found independently of the parser: assignments at the start of a line. */
function shellOptionNames(text: string): string[] {
  return [...text.matchAll(/^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=/gm)].map((m) => m[1]!);
}
function iniOptionNames(text: string): string[] {
  return [...text.matchAll(/^([a-z_]+)\s*=/gm)].map((m) => m[1]!);
}

describe.each([
  ['jh_config (shell generation)', SHELL, shellOptionNames],
  ['jh_config.ini (python generation)', INI, iniOptionNames],
])('config import of %s', (_name, file, names) => {
  const result = load(file);

  it('yields configs the loaders accept', () => {
    const dir = tempDir();
    expect(() => loadHpcWrapConfig(join(dir, 'hpc-wrap.yaml'), result.hpc)).not.toThrow();
    expect(() => loadHubBridgeConfig(join(dir, 'hub-bridge.yaml'), result.hub)).not.toThrow();
  });

  it('names every option of the input, once, with its line', () => {
    const expected = names(readFileSync(file, 'utf8'));
    expect(expected.length).toBeGreaterThan(20);
    expect(result.rows.map((r) => r.option.replace(/^\[[^\]]+\] /, ''))).toEqual(expected);
    for (const row of result.rows) expect(row.line).toBeGreaterThan(0);
  });

  it('says why for everything it did not map or changed', () => {
    for (const row of result.rows.filter((r) => r.status !== 'mapped')) expect(row.note, row.option).not.toBe('');
    expect(rowOf(result, 'ssh_tunnel_user').targets).toEqual(['hub-bridge.yaml tunnel.user']);
  });

  it('turns the submit and cancel command strings into argv arrays', () => {
    expect(result.hpc.scheduler).toEqual({ kind: 'slurm', submit: ['sbatch', '--parsable'], cancel: ['scancel'] });
    expect(rowOf(result, 'cmd_run_job')).toMatchObject({ status: 'changed', targets: ['hpc-wrap.yaml scheduler.kind', 'hpc-wrap.yaml scheduler.submit'] });
    expect(rowOf(result, 'cmd_run_job').note).toContain('→ ["sbatch","--parsable"]: an argv array, run without a shell');
    expect(rowOf(result, 'cmd_kill_job').note).toContain('"scancel $JOBID" → ["scancel"]: hpc-wrap appends the job id');
    expect(rowOf(result, 'cmd_job_state')).toMatchObject({ status: 'not needed' });
    expect(rowOf(result, 'cmd_job_state').note).toContain('hpc-wrap builds its own query');
  });

  it('maps the old tunnel to the hub side: the hub end of the API forward and the tunnel account', () => {
    expect(result.hub).toMatchObject({ hubApiUrl: 'http://127.0.0.1:8081/hub/api', tunnel: { enabled: true, user: 'tunnelbot' } });
    expect(rowOf(result, 'ssh_tunnel_api').status).toBe('changed');
  });

  it('makes the container a named environment with the overlay settings', () => {
    const env = (result.hpc.environments as Record<string, { container: Record<string, unknown> }>).default!;
    expect(env.container.image).toMatch(/^\/scratch\/jupyter-group\/(SINGULARITY|singularity)\/compute_jupyter\.sif$/);
    expect(result.hpc.defaultEnvironment).toBe('default');
    expect(result.hpc.overlays).toMatchObject({ enabled: true });
  });
});

describe('config import, shell generation specifics', () => {
  const r = load(SHELL);

  it('lists what it cannot map, with the reason', () => {
    const notMapped = r.rows.filter((x) => x.status === 'not mapped').map((x) => x.option);
    expect(notMapped).toEqual(expect.arrayContaining(['use_accounting', 'sqlite_database_file', 'ssh_priv_key', 'webdav_command']));
    expect(rowOf(r, 'ssh_priv_key').note).toContain('one key per job');
    expect(rowOf(r, 'webdav_command').note).toContain('davfs2');
  });

  it('replaces the dd + mkfs overlay commands by a sparse image and an mkfs argv', () => {
    expect(rowOf(r, 'create_overlay_cmd')).toMatchObject({ status: 'changed' });
    expect(rowOf(r, 'create_overlay_cmd').note).toContain('sparse');
    expect(r.hpc.overlays).toEqual({ enabled: true, sizeMiB: 6144, mkfs: ['/scratch/jupyter-group/e2fsprogs/mke2fs', '-t', 'ext3'] });
  });

  it('resolves $var references to earlier options and keeps run-time variables out of the config', () => {
    expect(r.hpc.homes).toEqual({ create: true, root: '/scratch/jupyter-group/HOME_DIRECTORIES' });
    expect(r.hpc.webdav).toEqual({ mountDir: '{home}/WebDAV-Share', containerPath: '/notebooks/WebDAV-Share' });
    const binds = (r.hpc.environments as Record<string, { container: { extraBinds: unknown[] } }>).default!.container.extraBinds;
    expect(binds).toEqual([{ source: '/scratch/jupyter-group/nbgrader/exchange', target: '/srv/nbgrader/exchange', mode: 'rw' }]);
    expect(rowOf(r, 'singularity_bind_extra').note).toContain('$JUPYTERHUB_USER');
    expect(JSON.stringify(r.hpc)).not.toContain('$');
  });

  it('lists the shell statements it ignored (it never runs them)', () => {
    expect(r.ignored.map((i) => i.line)).toEqual([71, 80]);
    expect(r.ignored[1]!.why).toContain('function');
  });
});

describe('config import, ini generation specifics', () => {
  it('interpolates ${section:key} and ${key}, and reads %% as %', () => {
    const p = parseIniConfig(readFileSync(INI, 'utf8'));
    const opt = (n: string) => p.options.find((o) => o.name === n)!;
    expect(opt('log_file').value).toBe('/scratch/jupyter-group/application.log');
    expect(opt('jupyterhub_api_url').value).toBe('http://127.0.0.1:8083/hub/api');
    expect(opt('cmd_job_state').value).toBe('squeue -ho %.T -j $JOBID');
    expect(opt('cmd_job_state').unresolved).toEqual(['JOBID']);
  });

  it('maps log_level, --bind in the extra arguments and the overlay directory', () => {
    const r = load(INI);
    expect(r.hpc.logging).toEqual({ file: '/scratch/jupyter-group/application.log', level: 'debug' });
    const c = (r.hpc.environments as Record<string, { container: Record<string, unknown> }>).default!.container;
    expect(c.extraBinds).toEqual([{ source: '/scratch/shared', target: null, mode: 'rw' }]);
    expect(c.extraArgs).toEqual(['--contain']);
    expect(r.hpc.overlays).toMatchObject({ mode: 'auto', location: '/scratch/jupyter-group/overlays', sizeMiB: 2048 });
    expect(rowOf(r, 'ssh_keypath').status).toBe('not mapped');
  });
});

describe('config import treats the legacy file as text', () => {
  it('never runs $(...), backticks or statements, and says the value cannot be used', () => {
    const marker = join(tempDir(), 'ran');
    const text = [
      `scratch_dir=$(touch ${marker})`,
      `home_dir=\`touch ${marker}\``,
      `touch ${marker}`,
      'cmd_run_job="sbatch --parsable; rm -rf /"',
    ].join('\n');
    const r = importLegacyConfig(text, 'inline');
    expect(existsSync(marker)).toBe(false);
    expect(rowOf(r, 'scratch_dir')).toMatchObject({ status: 'not mapped' });
    expect(rowOf(r, 'scratch_dir').note).toContain('runs a command');
    expect(rowOf(r, 'home_dir').status).toBe('not mapped');
    expect(rowOf(r, 'cmd_run_job').note).toContain('";" needs a shell');
    expect(r.ignored[0]!.text).toBe(`touch ${marker}`);
    // sbatch tells the scheduler even though the command itself cannot be kept
    expect(r.hpc).toEqual({ scheduler: { kind: 'slurm' } });
  });

  it('does not repeat secrets in the report or the config', () => {
    const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----';
    const text = `ssh_priv_key="${key}"\n_WDT="hunter2-webdav"\nscratch_dir=/scratch/x\nexport API_TOKEN=tok-123 some-command\n`;
    const r = importLegacyConfig(text, 'inline');
    const everything = JSON.stringify(r);
    expect(everything).not.toContain('b3BlbnNzaC1rZXkt');
    expect(everything).not.toContain('hunter2');
    expect(everything).not.toContain('tok-123'); // an ignored line is not repeated either
    expect(rowOf(r, 'ssh_priv_key').shown).toBe('<not shown>');
    expect(rowOf(r, 'scratch_dir').line).toBe(5); // the three-line key was read as one value
  });

  it('parses quoting like a shell would, without evaluating', () => {
    const p = parseShellConfig(`a=/x\nb="$a/y z" # comment\nc='$a/q'\nexport d=\${a}2\nlater='$e'\ne=5\n`);
    const v = Object.fromEntries(p.options.map((o) => [o.name, o.value]));
    expect(v).toEqual({ a: '/x', b: '/x/y z', c: '/x/q', d: '/x2', later: '5', e: '5' });
  });
});
