// `hpc-wrap config import FILE` through the bundle: the report on stdout, commented
// configs that `config check` accepts, no silent overwrite.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadHubBridgeConfig } from '../../../config/load.js';
import { buildBundle, HpcWrap, tempDir } from './support/hpc-wrap-bundle.js';

const LEGACY = resolve(import.meta.dirname, 'fixtures/legacy');
let bundle: string;
beforeAll(async () => {
  bundle = await buildBundle(tempDir());
});

const wrap = () => new HpcWrap(bundle, null);

describe('hpc-wrap config import', () => {
  it.each(['jh_config', 'jh_config.ini'])('converts %s into configs that config check accepts, reporting every option', async (name) => {
    const dir = tempDir();
    const out = join(dir, 'site', 'hpc-wrap.yaml');
    const r = await wrap().run(['config', 'import', join(LEGACY, name), '--out', out], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    for (const heading of ['mapped (', 'changed (', 'not needed (', 'not mapped (']) expect(r.stdout).toContain(heading);
    expect(r.stdout).toContain(`Wrote ${out} and ${join(dir, 'site', 'hub-bridge.yaml')}`);
    expect(r.stdout).toMatch(/line \d+: (\[workload_manager\] )?cmd_run_job = .* → hpc-wrap\.yaml scheduler\.kind, hpc-wrap\.yaml scheduler\.submit/);

    const check = await new HpcWrap(bundle, out).run(['config', 'check']);
    expect(check.code, check.stdout).toBe(0);
    const yaml = readFileSync(out, 'utf8');
    expect(yaml).toMatch(/# Submit command \(argv\); hpc-wrap appends the options and the script path\.\n\s*# from jh_config[^\n]*cmd_run_job \(line \d+\)\n\s*submit: \[ sbatch, --parsable \]/);
    expect(loadHubBridgeConfig(join(dir, 'site', 'hub-bridge.yaml')).tunnel.enabled).toBe(true);
  });

  it('prints a JSON report with --json, naming each option and its status', async () => {
    const dir = tempDir();
    const r = await wrap().run(['config', 'import', join(LEGACY, 'jh_config'), '--out', join(dir, 'h.yaml'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = r.json as { generation: string; options: { option: string; status: string }[]; ignored: unknown[] };
    expect(report.generation).toBe('shell');
    expect(report.options.find((o) => o.option === 'use_accounting')).toMatchObject({ status: 'not mapped' });
    expect(report.ignored).toHaveLength(2);
  });

  it('does not replace an existing file without --force (no terminal: exit 2)', async () => {
    const dir = tempDir();
    const out = join(dir, 'hpc-wrap.yaml');
    writeFileSync(out, 'workDir: /keep\n');
    const r = await wrap().run(['config', 'import', join(LEGACY, 'jh_config.ini'), '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${out} exists; pass --force`);
    expect(readFileSync(out, 'utf8')).toBe('workDir: /keep\n');
    const forced = await wrap().run(['config', 'import', join(LEGACY, 'jh_config.ini'), '--out', out, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('workDir: /scratch/jupyter-group');
  });

  it('reads the format from the content, whatever the file is called', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'in'));
    copyFileSync(join(LEGACY, 'jh_config.ini'), join(dir, 'in', 'settings.conf'));
    const r = await wrap().run(['config', 'import', join(dir, 'in', 'settings.conf'), '--out', join(dir, 'o.yaml'), '--json']);
    expect((r.json as { generation: string }).generation).toBe('ini');
  });

  it('says which file it cannot read, with exit 2', async () => {
    const r = await wrap().run(['config', 'import', '/nonexistent/jh_config']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot read /nonexistent/jh_config');
  });
});
