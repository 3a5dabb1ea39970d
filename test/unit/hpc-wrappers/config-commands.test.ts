// `hpc-wrap config check` and `config docs` through the bundle.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { hpcWrapSchema } from '../../../config/schema.js';
import { buildBundle, HpcWrap, makeWorkspace, tempDir, type Workspace } from './support/hpc-wrap-bundle.js';

let bundle: string;
let ws: Workspace;
beforeAll(async () => {
  bundle = await buildBundle(tempDir());
  ws = makeWorkspace(bundle, { scheduler: { kind: 'slurm', env: { SLURM_CONF: '/etc/slurm/x.conf', MUNGE_SECRET: 'hush' } } });
});
afterAll(() => ws.cleanup());

describe('config check', () => {
  it('prints the effective config as YAML with paths resolved and secrets redacted', async () => {
    const r = await ws.wrap.run(['config', 'check']);
    expect(r.code, r.stderr).toBe(0);
    const cfg = parse(r.stdout);
    expect(cfg.workDir).toBe(ws.workDir);
    expect(cfg.scheduler).toMatchObject({ kind: 'slurm', submit: ['sbatch', '--parsable'], env: { SLURM_CONF: '/etc/slurm/x.conf', MUNGE_SECRET: '<redacted>' } });
    expect(r.stdout).not.toContain('hush');
    expect(r.stdout).toContain(`source: ${ws.configPath}`);
  });

  it('takes the config from $HPC_WRAP_CONFIG when --config is not given', async () => {
    const r = await new HpcWrap(bundle, null).run(['config', 'check'], { env: { ...process.env, HPC_WRAP_CONFIG: ws.configPath } });
    expect(parse(r.stdout).workDir).toBe(ws.workDir);
  });

  it('names the key, the value and the rule of a broken config, with exit 2', async () => {
    const bad = join(tempDir(), 'bad.yaml');
    writeFileSync(bad, 'workDir: /x\nscheduler:\n  kind: slurm\n  submit: "sbatch --parsable"\njupyter:\n  portRange: {start: 70000, end: 1}\ntypo: 1\n');
    const r = await new HpcWrap(bundle, bad).run(['config', 'check']);
    expect(r.code).toBe(2);
    const message = (r.json as { error: { code: string; message: string } }).error.message;
    expect(r.json).toMatchObject({ error: { code: 'invalid' } });
    expect(message).toContain(bad);
    expect(message).toMatch(/scheduler\.submit: got "sbatch --parsable"/);
    expect(message).toMatch(/jupyter\.portRange\.start/);
    expect(message).toMatch(/unknown key\(s\) "typo"/);
  });

  it('makes other commands fail with exit 1 and the config problem', async () => {
    const bad = join(tempDir(), 'bad.yaml');
    writeFileSync(bad, 'scheduler: {kind: pbs}\n');
    const r = await new HpcWrap(bundle, bad).run(['jobstate', '1']);
    expect(r.code).toBe(1);
    expect((r.json as { error: { message: string } }).error.message).toContain('scheduler');
  });
});

describe('config docs', () => {
  it('lists every key of the schema with its description', async () => {
    const r = await new HpcWrap(bundle, null).run(['config', 'docs']);
    expect(r.code).toBe(0);
    const keys: string[] = [];
    const walk = (s: Record<string, unknown>, path: string) => {
      const props = (s.properties ?? {}) as Record<string, Record<string, unknown>>;
      for (const [k, v] of Object.entries(props)) {
        keys.push(path ? `${path}.${k}` : k);
        walk(v, path ? `${path}.${k}` : k);
      }
      for (const v of ((s.oneOf ?? s.anyOf ?? []) as Record<string, unknown>[])) walk(v, path);
    };
    walk(z.toJSONSchema(hpcWrapSchema, { io: 'input' }) as Record<string, unknown>, '');
    expect(keys.length).toBeGreaterThan(20);
    for (const key of keys) expect(r.stdout).toMatch(new RegExp(`^\\s*${key.replace(/\./g, '\\.')}: `, 'm'));
    expect(r.stdout).toContain('scheduler.timeoutSeconds: number (1..600)  [default: 30]');
    expect(r.stdout).toContain('Refuse new spawns (running sessions are not touched).');
  });
});
