// The tunnel key registry (the live sessions' keys by blob) and the small computations of
// a grant: wall times, the hub API port, the known_hosts line jobs pin, expiry.
import { describe, expect, it } from 'vitest';
import { generateTunnelKey } from '../../../hub-bridge/tunnel/tunnel-keys.js';
import { expiryFrom, hubApiPort, knownHostsLine, TunnelKeyRegistry, walltimeSeconds } from '../../../hub-bridge/tunnel/tunnel-registry.js';

const blob = (publicKey: string) => Buffer.from(publicKey.split(' ')[1]!, 'base64');

describe('grant computations', () => {
  it('parses Slurm wall times and the hub API port', () => {
    expect(walltimeSeconds('90')).toBe(5400);
    expect(walltimeSeconds('01:30')).toBe(90);
    expect(walltimeSeconds('02:00:00')).toBe(7200);
    expect(walltimeSeconds('1-00:00:00')).toBe(86400);
    expect(walltimeSeconds('1-2')).toBe(93600);
    expect(hubApiPort('http://127.0.0.1:8081/hub/api')).toBe(8081);
    expect(hubApiPort('https://127.0.0.1/hub/api')).toBe(443);
  });

  it('pins the endpoint as known_hosts does: bare host on 22, [host]:port otherwise', () => {
    expect(knownHostsLine('hub.example.org', 2222, 'ssh-ed25519 AAAA')).toBe('[hub.example.org]:2222 ssh-ed25519 AAAA');
    expect(knownHostsLine('hub.example.org', 22, 'ssh-ed25519 AAAA')).toBe('hub.example.org ssh-ed25519 AAAA');
  });

  it('a key lives for the wall time plus the margin', () => {
    expect(Date.parse(expiryFrom(0, '00:10:00', 60))).toBe(660_000);
  });
});

describe('TunnelKeyRegistry', () => {
  it('finds a live key by its blob, forgets it on remove (revocation), lists expired ones', () => {
    const r = new TunnelKeyRegistry();
    const [k1, k2] = [generateTunnelKey(), generateTunnelKey()];
    const future = new Date(Date.now() + 3600_000).toISOString();
    r.add('s-one', k1.publicKey, 40001, future);
    r.add('s-two', k2.publicKey, 40002, new Date(Date.now() - 1000).toISOString());
    expect(r.lookup(blob(k1.publicKey))).toMatchObject({ sessionId: 's-one', port: 40001 });
    expect(r.lookup(blob(generateTunnelKey().publicKey))).toBeUndefined();
    expect(r.expired().map((e) => e.sessionId)).toEqual(['s-two']);
    r.extend('s-two', future);
    expect(r.expired()).toEqual([]);
    r.remove('s-one');
    expect(r.lookup(blob(k1.publicKey))).toBeUndefined();
    expect(r.size).toBe(1);
  });

  it('a session re-added with a new key loses its old one', () => {
    const r = new TunnelKeyRegistry();
    const [k1, k2] = [generateTunnelKey(), generateTunnelKey()];
    const future = new Date(Date.now() + 3600_000).toISOString();
    r.add('s-one', k1.publicKey, 40001, future);
    r.add('s-one', k2.publicKey, 40001, future);
    expect(r.lookup(blob(k1.publicKey))).toBeUndefined();
    expect(r.lookup(blob(k2.publicKey))?.sessionId).toBe('s-one');
  });
});
