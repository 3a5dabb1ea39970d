// The registry is the one list of schedulers: the config schema, the wizard and the adapter
// factory take every kind from it, and nothing outside hpc-wrappers/schedulers/ special-cases
// a kind — so adding a scheduler is one folder plus one registry line.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hpcWrapSchema } from '../../../config/schema.js';
import { createScheduler, SCHEDULERS, schedulerKinds } from '../../../hpc-wrappers/schedulers/registry.js';
import { QUESTIONS } from '../../../hpc-wrappers/wizard/questions.js';

const ROOT = resolve(import.meta.dirname, '../../..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'node_modules' ? [] : sources(p);
    return /\.ts$/.test(name) ? [p] : [];
  });
}

describe('scheduler registry', () => {
  it('lists Slurm, Grid Engine, PBS Pro, Torque and fork, each accepted by the config schema with its defaults', () => {
    expect(schedulerKinds()).toEqual(['slurm', 'gridengine', 'pbspro', 'torque', 'fork']);
    for (const s of SCHEDULERS) {
      const cfg = hpcWrapSchema.parse({ scheduler: { kind: s.kind } });
      expect(cfg.scheduler.kind).toBe(s.kind);
      if (s.commands) expect(cfg.scheduler).toMatchObject({ submit: [...s.commands.submit], query: [...s.commands.query], cancel: [...s.commands.cancel] });
    }
    expect(hpcWrapSchema.parse({}).scheduler).toEqual({ kind: 'fork' });
  });

  it("refuses an unknown kind and another kind's settings, naming the key", () => {
    expect(hpcWrapSchema.safeParse({ scheduler: { kind: 'lsf' } }).success).toBe(false);
    const wrong = hpcWrapSchema.safeParse({ scheduler: { kind: 'slurm', parallelEnvironment: 'smp' } });
    expect(wrong.success).toBe(false);
    expect(JSON.stringify(wrong.error?.issues)).toMatch(/parallelEnvironment/);
  });

  it('gives the wizard its choices and makes an adapter of the same name for every kind', () => {
    expect(QUESTIONS.find((q) => q.id === 'scheduler')?.choices).toEqual(schedulerKinds());
    for (const s of SCHEDULERS) {
      const a = createScheduler({ kind: s.kind }, { forkDir: '/nonexistent', selfCommand: ['hpc-wrap'] });
      expect(a.name).toBe(s.kind);
      expect(a.describe().batchSystem).toBe(s.batchSystem);
      expect(a.gpuVariables).toContain('CUDA_VISIBLE_DEVICES');
    }
  });

  it('no code outside hpc-wrappers/schedulers/ compares against a scheduler kind', () => {
    const kinds = schedulerKinds().join('|');
    const special = new RegExp(`(===?|!==?|case)\\s*['"](${kinds})['"]|['"](${kinds})['"]\\s*(===?|!==?)`);
    const offending = ['hpc-wrappers', 'config', 'hub-bridge', 'contract']
      .flatMap((d) => sources(join(ROOT, d)))
      .filter((f) => !relative(ROOT, f).startsWith('hpc-wrappers/schedulers/'))
      .filter((f) => special.test(readFileSync(f, 'utf8')))
      .map((f) => relative(ROOT, f));
    expect(offending).toEqual([]);
  });

  it('each scheduler folder is reached from the registry by one import', () => {
    const registry = readFileSync(join(ROOT, 'hpc-wrappers/schedulers/registry.ts'), 'utf8');
    const folders = readdirSync(join(ROOT, 'hpc-wrappers/schedulers')).filter((n) => statSync(join(ROOT, 'hpc-wrappers/schedulers', n)).isDirectory() && n !== 'shared');
    for (const f of folders) expect(registry.match(new RegExp(`from '\\./${f}/`, 'g'))?.length ?? 0, f).toBeGreaterThanOrEqual(1);
  });
});
