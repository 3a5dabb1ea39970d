// The pipeline's order: every step's check before the first prepare (so a wrong setting of
// a late step is reported before an early step mounts or loads anything), prepares in
// list order, teardowns in reverse for the steps that prepared.
import { describe, expect, it } from 'vitest';
import { EnvironmentPipeline, type EnvironmentContext, type EnvironmentStep } from '../../../hpc-wrappers/start-env/steps.js';

const ctx = {} as EnvironmentContext;

function step(name: string, log: string[], opts: { failCheck?: string; failPrepare?: string } = {}): EnvironmentStep {
  return {
    name,
    check() {
      log.push(`check ${name}`);
      if (opts.failCheck) throw new Error(opts.failCheck);
    },
    async prepare() {
      log.push(`prepare ${name}`);
      if (opts.failPrepare) throw new Error(opts.failPrepare);
    },
    async teardown() {
      log.push(`teardown ${name}`);
    },
  };
}

describe('EnvironmentPipeline', () => {
  it("reports a late step's failed check before any step prepares", async () => {
    const log: string[] = [];
    const p = new EnvironmentPipeline([step('webdav', log), step('conda', log, { failCheck: 'conda.pack: /x.tar.gz does not exist' })]);
    await expect(p.prepare(ctx)).rejects.toThrow('environment step "conda" failed its check: conda.pack: /x.tar.gz does not exist');
    expect(log).toEqual(['check webdav', 'check conda']);
  });

  it('prepares in order and tears down only what prepared, in reverse', async () => {
    const log: string[] = [];
    const p = new EnvironmentPipeline([step('a', log), step('b', log), step('c', log, { failPrepare: 'boom' })]);
    await expect(p.prepare(ctx)).rejects.toThrow('environment step "c" failed: boom');
    await p.teardown(ctx);
    expect(log).toEqual(['check a', 'check b', 'check c', 'prepare a', 'prepare b', 'prepare c', 'teardown b', 'teardown a']);
  });
});
