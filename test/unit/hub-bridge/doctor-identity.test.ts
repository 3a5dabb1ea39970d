// doctor's identity check against the real hpc-wrap bundle (its `capabilities` answer):
// a shared identity is said plainly every time (WARN: every student can read every other's
// files), a mismatch between the two files FAILs with the fix, per-user on both passes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadHubBridgeConfig } from '../../../config/load.js';
import { HpcWrapClient } from '../../../hub-bridge/cluster/hpc-wrap-client.js';
import { checkIdentity } from '../../../hub-bridge/doctor/doctor-checks.js';
import { LocalTransport } from '../../../hub-bridge/transport/local-transport.js';
import { HPC_WRAP } from '../../support/bridge-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'doctor-identity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The real bundle with an hpc-wrap.yaml of the given identity (a batch scheduler, so per-user is valid). */
function clusterWith(identity: Record<string, unknown>): HpcWrapClient {
  const file = join(dir, `hpc-wrap-${Object.values(identity).join('-')}.yaml`);
  writeFileSync(file, stringify({ workDir: join(dir, 'work'), scheduler: { kind: 'slurm' }, identity }));
  return new HpcWrapClient(new LocalTransport({ runAs: null }), [process.execPath, HPC_WRAP, '--config', file], 30_000);
}

const hub = (identity: 'shared' | 'sudo') => loadHubBridgeConfig(null, { cluster: { transport: { kind: 'local', identity } } });

describe('doctor: identity', () => {
  it('shared on both sides: passes with a warning that says students can read each other\'s files, and the fix', async () => {
    const r = await checkIdentity(hub('shared'), clusterWith({ mode: 'shared' }));
    expect(r).toMatchObject({ ok: true, warning: true });
    expect(r.detail).toMatch(/every student's notebook can read every other student's files/);
    expect(r.fix).toMatch(/per-user identity/);
  });

  it('sudo on the hub side but shared on the cluster side fails, naming both files and the fix', async () => {
    const r = await checkIdentity(hub('sudo'), clusterWith({ mode: 'shared' }));
    expect(r).toMatchObject({ ok: false });
    expect(r.detail).toMatch(/hub-bridge\.yaml says identity sudo, hpc-wrap\.yaml says identity\.mode shared/);
    expect(r.fix).toMatch(/hpc-wrap setup/);
  });

  it('per-user on the cluster side but shared on the hub side fails', async () => {
    const r = await checkIdentity(hub('shared'), clusterWith({ mode: 'per-user', serviceGroup: 'hpcbridge' }));
    expect(r).toMatchObject({ ok: false, fix: expect.stringMatching(/identity: sudo/) });
  });

  it('per-user on both sides passes without a warning', async () => {
    const r = await checkIdentity(hub('sudo'), clusterWith({ mode: 'per-user', serviceGroup: 'hpcbridge' }));
    expect(r).toMatchObject({ ok: true });
    expect(r.warning).toBeFalsy();
  });
});
