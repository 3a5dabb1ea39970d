// The pipeline's order: every step's check before the first prepare (so a wrong setting of
// a late step is reported before an early step mounts or loads anything), prepares in
// list order, teardowns in reverse for the steps that prepared; a job-ending signal ends the
// wait for the step in progress (torn down at once) instead of the job waiting for its SIGKILL.
import { describe, expect, it } from 'vitest';
import { EnvironmentPipeline, PreparationStopped, type EnvironmentContext, type EnvironmentStep } from '../../../hpc-wrappers/start-env/steps.js';

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

  it('a stop signal during a step that never finishes: that step torn down, the rest not started, the stop named', async () => {
    const log: string[] = [];
    let release: () => void = () => undefined;
    const hanging: EnvironmentStep = {
      name: 'tunnel',
      prepare: () => new Promise<void>((_resolve, reject) => (release = () => reject(new Error('the agent was stopped')))),
      async teardown() {
        log.push('teardown tunnel');
        release();
      },
    };
    let signal: (s: NodeJS.Signals) => void = () => undefined;
    const stop = new Promise<NodeJS.Signals>((r) => (signal = r));
    const p = new EnvironmentPipeline([step('a', log), hanging, step('later', log)]);
    const prepared = p.prepare(ctx, stop);
    await new Promise((r) => setTimeout(r, 20));
    signal('SIGTERM');
    const err = await prepared.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreparationStopped);
    expect((err as Error).message).toBe('received SIGTERM while the environment step "tunnel" was preparing; the server was not started');
    await p.teardown(ctx);
    expect(log).toEqual(['check a', 'check later', 'prepare a', 'teardown tunnel', 'teardown a']);
  });

  it('a stop promise that never settles changes nothing', async () => {
    const log: string[] = [];
    const p = new EnvironmentPipeline([step('a', log), step('b', log)]);
    await p.prepare(ctx, new Promise<NodeJS.Signals>(() => undefined));
    await p.teardown(ctx);
    expect(log).toEqual(['check a', 'check b', 'prepare a', 'prepare b', 'teardown b', 'teardown a']);
  });
});
