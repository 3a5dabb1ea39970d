// A profile with a container environment, through the real bridge (SQLite, local
// transport, hpc-wrap bundle, fork scheduler), the Singularity TEST DOUBLE first on PATH
// and the real e2fsprogs: the student's damaged overlay is recreated and the hub's
// progress stream shows it; the session still becomes ready.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridgeFixture, STAND_IN_SERVER, waitFor, type BridgeFixture } from '../../support/bridge-fixture.js';
import { DOUBLE_BIN } from '../hpc-wrappers/support/container-env.js';
import { hasE2fsprogs } from '../hpc-wrappers/support/e2fs.js';

let fx: BridgeFixture;
let dir: string;

beforeAll(async () => {
  if (!hasE2fsprogs()) throw new Error('this test needs e2fsprogs (mkfs.ext3, e2fsck): apt-get install e2fsprogs');
  // The bridge runs hpc-wrap with this process's environment; the fork job inherits it.
  process.env.PATH = `${DOUBLE_BIN}:${process.env.PATH ?? ''}`;
  fx = await startBridgeFixture(
    { profiles: [{ name: 'lab', displayName: 'Lab', resources: { cpus: 1, walltime: '00:30:00' }, environment: 'lab' }] },
    { environments: { lab: { container: { image: 'compute.sif' } } }, overlays: { enabled: true, sizeMiB: 64 } },
  );
  dir = fx.dir;
  writeFileSync(join(dir, 'compute.sif'), 'stand-in image');
  mkdirSync(join(fx.workDir, 'overlays'), { recursive: true });
  writeFileSync(join(fx.workDir, 'overlays', 'bob.img'), Buffer.alloc(1024 * 1024, 0x33)); // not a file system
});
afterAll(async () => {
  await fx?.close();
});

describe('overlay notices reach the hub', () => {
  it('shows "your overlay image was damaged and has been recreated" as a progress event; the server still starts', async () => {
    const api = () => request(fx.bridge.server);
    const created = await api()
      .post('/v1/sessions')
      .set(fx.auth)
      .send({ user: 'bob', profile: 'lab', env: { JUPYTERHUB_API_TOKEN: 'tok-overlay-1', JUPYTERHUB_SERVICE_PREFIX: '/user/bob/' }, command: [process.execPath, STAND_IN_SERVER] })
      .expect(201);
    const id = created.body.id as string;
    await waitFor('ready', async () => {
      const r = await api().get(`/v1/sessions/${id}`).set(fx.auth);
      if (r.body.state === 'failed') throw new Error(r.body.message);
      return r.body.state === 'ready' ? true : undefined;
    });
    const events = (await api().get(`/v1/sessions/${id}/events`).set(fx.auth).expect(200)).body.events as { kind: string; message: string }[];
    const notices = events.filter((e) => e.kind === 'info' && /overlay image was damaged/.test(e.message));
    expect(notices).toHaveLength(1);
    expect(notices[0]!.message).toMatch(/the old one is kept as .*bob\.img\.corrupt-\d{8}T\d{6}Z/);
    await api().delete(`/v1/sessions/${id}`).set(fx.auth).expect(202);
  });
});
