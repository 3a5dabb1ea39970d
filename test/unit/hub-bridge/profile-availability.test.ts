// The partition check of profiles: at most one scheduler query per cacheSeconds (also under
// concurrent requests), never on the path of a start, and an unanswerable scheduler marks
// nothing unavailable. The query is injected (the real `hpc-wrap partitions` has its own
// test, slurm-partitions.test.ts).
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { profileCheckSchema } from '../../../config/schema-hub-service.js';
import { resourcesSchema } from '../../../config/schema.js';
import type { PartitionsReport } from '../../../hub-bridge/cluster/hpc-wrap-client.js';
import { ProfileAvailability } from '../../../hub-bridge/sessions/profile-availability.js';

const profile = (name: string, partition: string | null) => ({ name, displayName: name.toUpperCase(), description: '', resources: resourcesSchema.parse({ partition }), environment: null });
const PROFILES = [profile('small', 'debug'), profile('gpu', 'gpu'), profile('any', null), profile('either', 'gone,debug'), profile('down', 'maint')];
const REPORT: PartitionsReport = {
  scheduler: 'slurm',
  partitions: [
    { name: 'debug', available: true, state: 'up', default: true },
    { name: 'maint', available: false, state: 'down', default: false },
  ],
};

function setup(list: () => Promise<PartitionsReport>, cfg = {}) {
  let now = 1_000_000;
  const a = new ProfileAvailability(list, PROFILES, null, profileCheckSchema.parse({ cacheSeconds: 60, waitSeconds: 1, ...cfg }), pino({ level: 'silent' }), () => now);
  return { a, advance: (ms: number) => (now += ms) };
}

describe('profile availability', () => {
  it('marks an unknown or down partition with a reason in plain words; a list of partitions needs one', async () => {
    const { a } = setup(async () => REPORT);
    const m = await a.check();
    expect(m.get('small')).toEqual({ available: true, reason: null });
    expect(m.get('any')).toEqual({ available: true, reason: null });
    expect(m.get('either')).toEqual({ available: true, reason: null });
    expect(m.get('gpu')).toEqual({ available: false, reason: 'the cluster has no partition "gpu"' });
    expect(m.get('down')).toEqual({ available: false, reason: 'its partition "maint" is down on the cluster at the moment' });
    expect(a.refusal('gpu')).toBe('"GPU" cannot start now: the cluster has no partition "gpu". Pick another choice, and tell support if you need this one.');
    expect(a.refusal('small')).toBeNull();
    expect(a.refusal(undefined)).toBeNull(); // the default (first) profile
  });

  it('asks the scheduler at most once per cacheSeconds, also for concurrent requests', async () => {
    let calls = 0;
    const { a, advance } = setup(async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 50));
      return REPORT;
    });
    await Promise.all(Array.from({ length: 20 }, () => a.check()));
    expect(calls).toBe(1);
    advance(59_000);
    await a.check();
    expect(calls).toBe(1);
    advance(2_000);
    await a.check();
    expect(calls).toBe(2);
  });

  it('a start never queries: before the first answer nothing is refused', async () => {
    let calls = 0;
    const { a } = setup(async () => (calls++, REPORT));
    expect(a.refusal('gpu')).toBeNull();
    expect(calls).toBe(0);
  });

  it('an unanswerable scheduler marks nothing and is asked again after 30 s, not at every form', async () => {
    let calls = 0;
    const { a, advance } = setup(async () => {
      calls++;
      throw new Error('ssh: connect to host login1: Connection refused');
    });
    expect((await a.check()).get('gpu')).toEqual({ available: true, reason: null });
    await a.check();
    expect(calls).toBe(1);
    advance(31_000);
    await a.check();
    expect(calls).toBe(2);
  });

  it('answers within waitSeconds when the scheduler is slow, and uses the answer once it comes', async () => {
    let release!: () => void;
    const { a } = setup(() => new Promise<PartitionsReport>((r) => (release = () => r(REPORT))), { waitSeconds: 0.2 });
    const t0 = Date.now();
    expect((await a.check()).get('gpu')!.available).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2000);
    release();
    await new Promise((r) => setTimeout(r, 10));
    expect(a.refusal('gpu')).toMatch(/no partition "gpu"/);
  });

  it('can be switched off', async () => {
    let calls = 0;
    const { a } = setup(async () => (calls++, REPORT), { enabled: false });
    expect((await a.check()).get('gpu')!.available).toBe(true);
    expect(a.refusal('gpu')).toBeNull();
    expect(calls).toBe(0);
  });
});
