// TunnelKeyRegistry: a port and a key per session, the keyset file equal to the live
// sessions' unexpired keys, expiry counted from the job's start.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadHubBridgeConfig } from '../../../config/load.js';
import { SessionStore } from '../../../hub-bridge/store/session-store.js';
import { generateTunnelKey } from '../../../hub-bridge/tunnel/tunnel-keys.js';
import { hubApiPort, TunnelKeyRegistry, walltimeSeconds } from '../../../hub-bridge/tunnel/tunnel-registry.js';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'tunnel-registry-'));
  const hostKey = join(dir, 'ssh_host_ed25519_key.pub');
  writeFileSync(hostKey, `${generateTunnelKey().publicKey} root@hub\n`);
  const config = loadHubBridgeConfig(null, {
    hubApiUrl: 'http://127.0.0.1:8081/hub/api',
    ports: { start: 43100, end: 43109 },
    tunnel: { enabled: true, sshHost: 'hub.example.org', sshPort: 2222, hostKeyFiles: [hostKey], keysetFile: join(dir, 'keys.json'), keyLifetimeMarginSeconds: 60 },
  });
  const store = new SessionStore(join(dir, 'db.sqlite'));
  return { dir, config, store, registry: new TunnelKeyRegistry(config, store), keyset: () => JSON.parse(readFileSync(join(dir, 'keys.json'), 'utf8')) };
}

let n = 0;
function session(store: SessionStore) {
  const id = `s-${'abcdefghijklmnopqrstuvwxyz'.slice(0, 25)}${'234567'[n++ % 6]}`;
  return store.create({ id, user: `u${n}`, serverName: '', profile: 'default', servicePrefix: '/', submitDoc: '{}' }, null);
}

describe('TunnelKeyRegistry', () => {
  it('parses Slurm wall times and the hub API port', () => {
    expect(walltimeSeconds('90')).toBe(5400);
    expect(walltimeSeconds('01:30')).toBe(90);
    expect(walltimeSeconds('02:00:00')).toBe(7200);
    expect(walltimeSeconds('1-00:00:00')).toBe(86400);
    expect(walltimeSeconds('1-2')).toBe(93600);
    expect(hubApiPort('http://127.0.0.1:8081/hub/api')).toBe(8081);
    expect(hubApiPort('https://127.0.0.1/hub/api')).toBe(443);
  });

  it('grants distinct ports in the range, pins the hub host key, and lists only live keys', async () => {
    const { store, registry, keyset } = setup();
    const a = session(store);
    const g1 = await registry.grant({ walltime: '01:00:00' } as never);
    store.update(a.id, { tunnelPort: g1.remotePort, tunnelPublicKey: g1.publicKey, tunnelExpiresAt: g1.expiresAt });
    registry.commit(g1);
    const b = session(store);
    const g2 = await registry.grant({ walltime: '01:00:00' } as never);
    store.update(b.id, { tunnelPort: g2.remotePort, tunnelPublicKey: g2.publicKey, tunnelExpiresAt: g2.expiresAt });
    registry.commit(g2);

    expect(g1.remotePort).not.toBe(g2.remotePort);
    for (const g of [g1, g2]) {
      expect(g.remotePort).toBeGreaterThanOrEqual(43100);
      expect(g.remotePort).toBeLessThanOrEqual(43109);
      expect(g.hostKeys[0]).toMatch(/^\[hub\.example\.org\]:2222 ssh-ed25519 /);
      expect(g.hubApiPort).toBe(8081);
      expect(g.privateKey).toMatch(/BEGIN OPENSSH PRIVATE KEY/);
    }
    expect(keyset().apiPort).toBe(8081);
    expect(keyset().keys.map((k: { sessionId: string }) => k.sessionId).sort()).toEqual([a.id, b.id].sort());

    store.update(a.id, { state: 'stopped' });
    registry.sync();
    expect(keyset().keys.map((k: { sessionId: string }) => k.sessionId)).toEqual([b.id]); // revoked
    expect(JSON.stringify(keyset())).not.toContain('PRIVATE');
  });

  it('counts the key lifetime from the job start, and drops expired keys', async () => {
    const { store, registry, keyset } = setup();
    const a = session(store);
    const g = await registry.grant({ walltime: '00:10:00' } as never);
    // pretend the job waited in the queue longer than its wall time + margin
    store.update(a.id, { tunnelPort: g.remotePort, tunnelPublicKey: g.publicKey, tunnelExpiresAt: new Date(Date.now() - 1000).toISOString() });
    registry.commit(g);
    expect(keyset().keys).toEqual([]);
    registry.jobStarted(a.id, '00:10:00');
    const [k] = keyset().keys;
    const left = Date.parse(k.expiresAt) - Date.now();
    expect(left).toBeGreaterThan(600_000 + 50_000);
    expect(left).toBeLessThanOrEqual(660_000);
  });
});
