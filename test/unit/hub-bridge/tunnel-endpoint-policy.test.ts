// The tunnel endpoint's policy, decision by decision: publickey only, the tunnel user only,
// ed25519 keys of live sessions only, a valid signature over this connection's data; listen
// on the key's own 127.0.0.1:P only; open 127.0.0.1:<hub API port> only (no other name for
// it), plus the status channel; status lines parsed strictly.
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { decideAuth, decideDirect, forwardRefusal, parseStatusPush, STATUS_CHANNEL, type AuthRequest, type EndpointKey } from '../../../hub-bridge/tunnel/endpoint-policy.js';
import { generateTunnelKey } from '../../../hub-bridge/tunnel/tunnel-keys.js';
import { TunnelKeyRegistry } from '../../../hub-bridge/tunnel/tunnel-registry.js';

const pair = generateTunnelKey();
const other = generateTunnelKey();
const priv = ssh2.utils.parseKey(pair.privateKey) as ssh2.ParsedKey;
const otherPriv = ssh2.utils.parseKey(other.privateKey) as ssh2.ParsedKey;
const blob = priv.getPublicSSH();
const NOW = Date.parse('2030-01-01T12:00:00Z');
const grant: EndpointKey = new TunnelKeyRegistry().add('s-live', pair.publicKey, 40123, new Date(NOW + 3600_000).toISOString());
const lookup = (b: Buffer) => (b.equals(blob) ? grant : undefined);
const signed = Buffer.from('session id + userauth request');
const req = (over: Partial<AuthRequest> = {}): AuthRequest => ({
  username: 'tunnelbot',
  method: 'publickey',
  keyAlgo: 'ssh-ed25519',
  keyData: blob,
  signature: priv.sign(signed),
  signedData: signed,
  ...over,
});
const decide = (r: AuthRequest, now = NOW) => decideAuth(r, 'tunnelbot', lookup, now);

describe('login', () => {
  it('accepts the live key of a session with a valid signature, and answers a key query', () => {
    expect(decide(req())).toEqual({ kind: 'accept', grant });
    expect(decide(req({ signature: undefined, signedData: undefined }))).toEqual({ kind: 'query', grant });
  });

  it.each([
    ['password', { method: 'password' }, /method password is not offered/],
    ['keyboard-interactive', { method: 'keyboard-interactive' }, /method keyboard-interactive is not offered/],
    ['none', { method: 'none' }, /method none/],
    ['hostbased', { method: 'hostbased' }, /method hostbased/],
    ['another user', { username: 'root' }, /user "root" is not the tunnel user/],
    ['an RSA key', { keyAlgo: 'ssh-rsa' }, /key type ssh-rsa/],
    ['a key of no session', { keyData: otherPriv.getPublicSSH(), signature: otherPriv.sign(signed) }, /not the key of a live session/],
    ['a signature by another key', { signature: otherPriv.sign(signed) }, /bad signature/],
    ['a signature over other data', { signedData: Buffer.from('other data') }, /bad signature/],
    ['a garbage signature', { signature: Buffer.alloc(64, 7) }, /bad signature/],
  ])('refuses %s', (_what, over, why) => {
    const d = decide(req(over as Partial<AuthRequest>));
    expect(d.kind).toBe('refuse');
    expect((d as { why: string }).why).toMatch(why);
  });

  it('refuses an expired key, also for a mere query', () => {
    expect(decide(req(), grant.expiresAtMs)).toMatchObject({ kind: 'refuse', why: expect.stringMatching(/expired/) });
    expect(decide(req({ signature: undefined }), grant.expiresAtMs + 1)).toMatchObject({ kind: 'refuse' });
  });
});

describe('forwards and channels', () => {
  it('listens only on 127.0.0.1:<its own port>', () => {
    expect(forwardRefusal(grant, '127.0.0.1', 40123)).toBeNull();
    for (const [addr, port] of [['127.0.0.1', 40124], ['0.0.0.0', 40123], ['localhost', 40123], ['', 40123], ['::1', 40123], ['127.0.0.2', 40123], ['127.0.0.1', 0]] as const) {
      expect(forwardRefusal(grant, addr, port), `${addr}:${port}`).toMatch(/may listen on 127\.0\.0\.1:40123 only/);
    }
  });

  it('opens only 127.0.0.1:<hub API port>, under that name only, and the status channel', () => {
    expect(decideDirect('127.0.0.1', 8081, 8081)).toBe('hub-api');
    expect(decideDirect(STATUS_CHANNEL.host, STATUS_CHANNEL.port, 8081)).toBe('status');
    for (const [h, p] of [['localhost', 8081], ['::1', 8081], ['127.1', 8081], ['127.0.0.1', 22], ['127.0.0.1', 8099], ['10.0.0.1', 8081], [STATUS_CHANNEL.host, 2]] as const) {
      expect(decideDirect(h, p, 8081), `${h}:${p}`).toBe('refuse');
    }
  });
});

describe('status push', () => {
  it('reads {"phase","port"} lines and nothing else', () => {
    expect(parseStatusPush('{"phase":"listening","port":43123}')).toEqual({ phase: 'listening', port: 43123 });
    expect(parseStatusPush('{"phase":"starting"}')).toEqual({ phase: 'starting', port: null });
    for (const bad of ['', 'listening', '[]', '{"phase":"ready"}', '{"phase":"listening","port":0}', '{"phase":"listening","port":"1"}', `{"phase":"listening","x":"${'a'.repeat(600)}"}`]) {
      expect(parseStatusPush(bad), bad.slice(0, 40)).toBeNull();
    }
  });
});
