// A hub profile selects a software environment defined in the cluster's hpc-wrap.yaml:
// the name travels with the session to startjob, which records the environment for
// start-env; an unknown name fails the session at once with what is known.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeName } from '../../../contract/names.js';
import { startBridgeFixture, STAND_IN_SERVER, waitFor, type BridgeFixture } from '../../support/bridge-fixture.js';

let fx: BridgeFixture;
beforeAll(async () => {
  fx = await startBridgeFixture(
    {
      profiles: [
        { name: 'lab', displayName: 'Lab', resources: { cpus: 1 }, environment: 'lab-env' },
        { name: 'typo', displayName: 'Typo', resources: { cpus: 1 }, environment: 'no-such-env' },
      ],
    },
    { environments: { 'lab-env': { description: 'the course environment' } } },
  );
});
afterAll(async () => {
  await fx?.close();
});

const body = (user: string, profile: string) => ({ user, profile, env: { JUPYTERHUB_SERVICE_PREFIX: `/user/${user}/` }, command: [process.execPath, STAND_IN_SERVER] });

describe('profiles pick environments', () => {
  it("the profile's environment is recorded for the job", async () => {
    const res = await request(fx.bridge.server).post('/v1/sessions').set(fx.auth).send(body('ann', 'lab')).expect(201);
    const s = await waitFor('ready', async () => {
      const r = await request(fx.bridge.server).get(`/v1/sessions/${res.body.id}`).set(fx.auth);
      if (r.body.state === 'failed') throw new Error(r.body.message);
      return r.body.state === 'ready' ? r.body : undefined;
    });
    // startjob records the choice in the application log; start-env names it in the job output
    const appLog = readFileSync(join(fx.workDir, 'log', 'hpc-wrap.log'), 'utf8');
    const submitted = appLog.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.event === 'startjob.submitted' && e.sessionId === s.id);
    expect(submitted.environment).toBe('lab-env');
    const output = readFileSync(join(fx.workDir, 'users', escapeName('ann'), 'sessions', s.id, 'output.log'), 'utf8');
    expect(output).toContain('preparing the environment "lab-env"');
    await request(fx.bridge.server).delete(`/v1/sessions/${s.id}`).set(fx.auth).expect(202);
  });

  it('an environment the cluster does not define is refused at once (400) with the known ones, nothing submitted', async () => {
    const res = await request(fx.bridge.server).post('/v1/sessions').set(fx.auth).send(body('ben', 'typo')).expect(400);
    expect(res.body.error.message).toMatch(/environment: "no-such-env" is not an environment of this cluster; known: lab-env/);
    expect((await request(fx.bridge.server).get('/v1/sessions?user=ben').set(fx.auth)).body.sessions).toEqual([]);
  });
});
