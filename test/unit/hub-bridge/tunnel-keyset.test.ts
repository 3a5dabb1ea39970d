// The keyset file: atomic writes readable by sshd's AuthorizedKeysCommandUser, strict
// validation, and refusal of a file (or directory above it) someone else could write.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, describe, expect, it } from 'vitest';
import { KeysetError, readKeyset, validateKeyset, writeKeyset, type TunnelKeyset } from '../../../hub-bridge/tunnel/keyset-file.js';
import { generateTunnelKey } from '../../../hub-bridge/tunnel/tunnel-keys.js';

const dirs: string[] = [];
const uid = process.getuid?.() ?? 0;
const asRoot = uid === 0;
const me = { owners: [uid] };
const hasSshKeygen = spawnSync('ssh-keygen', ['-?']).error === undefined;

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'keyset-test-'));
  chmodSync(d, 0o755);
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const SID = `s-${'a'.repeat(26)}`;
function keyset(): TunnelKeyset {
  return {
    version: 1,
    apiPort: 8081,
    keys: [
      { publicKey: generateTunnelKey().publicKey, port: 40001, expiresAt: new Date(Date.now() + 3600_000).toISOString(), sessionId: SID },
      { publicKey: generateTunnelKey().publicKey, port: 40002, expiresAt: '2030-01-01T00:00:00Z', sessionId: `s-${'b'.repeat(26)}` },
    ],
  };
}

describe('tunnel keys', () => {
  it('generates an ed25519 pair in the forms the keyset and ssh2 use', () => {
    const k = generateTunnelKey();
    expect(k.publicKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}$/);
    expect(k.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    expect(generateTunnelKey().publicKey).not.toBe(k.publicKey);
  });

  it('every key parses in ssh2 with the matching public key (ssh2 own keygen fails ~1 in 200)', () => {
    for (let i = 0; i < 2000; i++) {
      const k = generateTunnelKey();
      const parsed = ssh2.utils.parseKey(k.privateKey);
      expect(parsed).not.toBeInstanceOf(Error);
      expect(`ssh-ed25519 ${(parsed as ssh2.ParsedKey).getPublicSSH().toString('base64')}`).toBe(k.publicKey);
    }
  });

  it.runIf(hasSshKeygen)('OpenSSH reads the private key and derives the same public key', () => {
    const d = dir();
    const k = generateTunnelKey();
    writeFileSync(join(d, 'id'), k.privateKey, { mode: 0o600 });
    expect(execFileSync('ssh-keygen', ['-y', '-f', join(d, 'id')], { encoding: 'utf8' }).trim()).toBe(k.publicKey);
  });
});

describe('keyset file', () => {
  it('writes atomically with mode 0644 and reads back the same set; no temporary file is left', () => {
    const d = dir();
    const file = join(d, 'tunnel-keys.json');
    const ks = keyset();
    writeKeyset(file, ks);
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(readKeyset(file, me)).toEqual(ks);
    const next = { ...ks, keys: ks.keys.slice(1) };
    writeKeyset(file, next);
    expect(readKeyset(file, me)).toEqual(next);
    expect(readdirSync(d)).toEqual(['tunnel-keys.json']);
  });

  it('refuses to write an invalid set (nothing replaced)', () => {
    const file = join(dir(), 'k.json');
    writeKeyset(file, keyset());
    const bad = keyset();
    bad.keys[0]!.port = 70000;
    expect(() => writeKeyset(file, bad)).toThrow(/keys\[0\]: port/);
    expect(readKeyset(file, me).keys[0]!.port).toBe(40001);
  });

  it.each([
    ['no version', (k: any) => delete k.version, /version/],
    ['apiPort 0', (k: any) => (k.apiPort = 0), /apiPort/],
    ['keys not an array', (k: any) => (k.keys = {}), /keys must be an array/],
    ['a key with options smuggled in', (k: any) => (k.keys[0].publicKey = `command="/bin/sh" ${k.keys[0].publicKey}`), /publicKey/],
    ['a key with a newline', (k: any) => (k.keys[0].publicKey += '\nssh-ed25519 AAAA'), /publicKey/],
    ['a key whose blob names another type', (k: any) => (k.keys[0].publicKey = k.keys[0].publicKey.replace('ssh-ed25519', 'ssh-rsa')), /publicKey/],
    ['a fractional port', (k: any) => (k.keys[0].port = 40001.5), /port/],
    ['a port as a string', (k: any) => (k.keys[0].port = '40001'), /port/],
    ['a date that is not ISO', (k: any) => (k.keys[0].expiresAt = 'tomorrow'), /expiresAt/],
    ['a bad session id', (k: any) => (k.keys[0].sessionId = '../x'), /sessionId/],
  ])('validation refuses %s', (_what, mutate, message) => {
    const k: any = keyset();
    mutate(k);
    expect(() => validateKeyset(k)).toThrow(message);
  });

  it('ignores unknown extra fields (a newer bridge may add some)', () => {
    const k: any = keyset();
    k.comment = 'x';
    k.keys[0].user = 'alice';
    expect(validateKeyset(k).keys[0]).not.toHaveProperty('user');
  });

  it('reading: missing, not JSON, not a regular file → KeysetError naming the problem', () => {
    const d = dir();
    expect(() => readKeyset(join(d, 'none.json'), me)).toThrow(/cannot open .*ENOENT/);
    writeFileSync(join(d, 'bad.json'), '{"version":1,', { mode: 0o644 });
    expect(() => readKeyset(join(d, 'bad.json'), me)).toThrow(/not valid JSON/);
    mkdirSync(join(d, 'sub'), { mode: 0o755 });
    expect(() => readKeyset(join(d, 'sub'), me)).toThrow(KeysetError);
  });

  it('refuses a group- or world-writable keyset, and one in a directory others can write', () => {
    const d = dir();
    const file = join(d, 'k.json');
    writeKeyset(file, keyset());
    chmodSync(file, 0o664);
    expect(() => readKeyset(file, me)).toThrow(/group- or world-writable \(mode 664\)/);
    chmodSync(file, 0o646);
    expect(() => readKeyset(file, me)).toThrow(/world-writable/);
    chmodSync(file, 0o644);
    chmodSync(d, 0o777);
    expect(() => readKeyset(file, me)).toThrow(/directory .* group- or world-writable/);
    chmodSync(d, 0o755);
    expect(readKeyset(file, me).keys).toHaveLength(2);
    // without the checks (the bridge reading its own file) the mode does not matter
    chmodSync(file, 0o666);
    expect(readKeyset(file, { checkPermissions: false }).keys).toHaveLength(2);
  });

  it('checks the file a symlink points to', () => {
    const d = dir();
    const real = join(d, 'real.json');
    writeKeyset(real, keyset());
    symlinkSync(real, join(d, 'link.json'));
    expect(readKeyset(join(d, 'link.json'), me).keys).toHaveLength(2);
    chmodSync(real, 0o666);
    expect(() => readKeyset(join(d, 'link.json'), me)).toThrow(/writable/);
  });

  it.runIf(asRoot)('refuses a keyset owned by an account that is neither root nor a given owner', () => {
    const d = dir();
    const file = join(d, 'k.json');
    writeKeyset(file, keyset());
    chownSync(file, 4242, 4242);
    expect(() => readKeyset(file)).toThrow(/owned by uid 4242, not root/);
    expect(readKeyset(file, { owners: [4242] }).keys).toHaveLength(2);
    chownSync(file, 0, 0);
    chownSync(d, 4343, 4343);
    expect(() => readKeyset(file)).toThrow(/directory .* owned by uid 4343/);
  });
});
