// The AuthorizedKeysCommand's decision and its command line, in-process and as the built
// tiny bundle sshd runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizedKeysLine, authorizedKeysMain, keyOptions, parseAuthorizedKeysArgv, resolveOwner } from '../../../hub-bridge/tunnel/authorized-keys.js';
import { writeKeyset, type TunnelKeyset } from '../../../hub-bridge/tunnel/keyset-file.js';
import { generateTunnelKey } from '../../../hub-bridge/tunnel/tunnel-keys.js';

const REPO = resolve(import.meta.dirname, '../../..');
const uid = String(process.getuid?.() ?? 0);
const k1 = generateTunnelKey().publicKey.split(' ') as [string, string];
const k2 = generateTunnelKey().publicKey.split(' ') as [string, string];
const stranger = generateTunnelKey().publicKey.split(' ') as [string, string];
const NOW = Date.parse('2030-01-01T12:00:00Z');
const keyset: TunnelKeyset = {
  version: 1,
  apiPort: 8081,
  keys: [
    { publicKey: k1.join(' '), port: 40001, expiresAt: '2030-01-01T13:00:00Z', sessionId: `s-${'a'.repeat(26)}` },
    { publicKey: k2.join(' '), port: 40002, expiresAt: '2030-01-01T11:59:59Z', sessionId: `s-${'b'.repeat(26)}` },
  ],
};
let dir: string;
let file: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'authkeys-test-'));
  chmodSync(dir, 0o755);
  file = join(dir, 'tunnel-keys.json');
  writeKeyset(file, { ...keyset, keys: [{ ...keyset.keys[0]!, expiresAt: new Date(Date.now() + 3600_000).toISOString() }] });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const present = (key: [string, string], user = 'tunnelbot') => ({ user, keyType: key[0], key: key[1] });

describe('authorizedKeysLine', () => {
  it('a live key of the tunnel user gets exactly its port, the API port and the forced command', () => {
    expect(authorizedKeysLine(keyset, present(k1), 'tunnelbot', NOW)).toBe(
      `restrict,port-forwarding,permitlisten="127.0.0.1:40001",permitopen="127.0.0.1:8081",command="/usr/sbin/nologin" ${k1.join(' ')}`,
    );
    expect(keyOptions(1, 2)).toBe('restrict,port-forwarding,permitlisten="127.0.0.1:1",permitopen="127.0.0.1:2",command="/usr/sbin/nologin"');
  });

  it('nothing for an expired key, an unknown key, another user, or a mangled type/key', () => {
    expect(authorizedKeysLine(keyset, present(k2), 'tunnelbot', NOW)).toBeNull();
    expect(authorizedKeysLine(keyset, present(k1), 'tunnelbot', Date.parse('2030-01-01T13:00:00Z'))).toBeNull();
    expect(authorizedKeysLine(keyset, present(stranger), 'tunnelbot', NOW)).toBeNull();
    expect(authorizedKeysLine(keyset, present(k1, 'root'), 'tunnelbot', NOW)).toBeNull();
    expect(authorizedKeysLine(keyset, { user: 'tunnelbot', keyType: 'ssh-rsa', key: k1[1] }, 'tunnelbot', NOW)).toBeNull();
    expect(authorizedKeysLine(keyset, { user: 'tunnelbot', keyType: k1[0], key: `${k1[1]}\nssh-ed25519 AAAA` }, 'tunnelbot', NOW)).toBeNull();
  });
});

describe('command line', () => {
  it('parses sshd-style arguments, --owner by name or uid', () => {
    expect(parseAuthorizedKeysArgv(['--keyset', '/k.json', '--tunnel-user', 'tb', '--owner', '0', '--owner', 'root', 'tb', 'ssh-ed25519', 'AAAA'])).toEqual({
      keysetFile: '/k.json',
      tunnelUser: 'tb',
      owners: [0, 0],
      presented: { user: 'tb', keyType: 'ssh-ed25519', key: 'AAAA' },
    });
    expect(() => resolveOwner('no-such-account-xyz')).toThrow(/no such account/);
  });

  it('usage errors: status 2 and a message; nothing on stdout', () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
    expect(authorizedKeysMain(['tunnelbot', 'ssh-ed25519', 'AAAA'], io)).toBe(2);
    expect(authorizedKeysMain(['--keyset', file, 'tunnelbot'], io)).toBe(2);
    expect(authorizedKeysMain(['--keyset', file, '--bogus', 'a', 'b', 'c'], io)).toBe(2);
    expect(out).toEqual([]);
    expect(err.join('')).toMatch(/--keyset FILE is required[\s\S]*expected USER TYPE KEY[\s\S]*unknown option --bogus/);
  });

  it('a broken keyset: nothing on stdout, one line on stderr, status 0', () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
    expect(authorizedKeysMain(['--keyset', join(dir, 'missing.json'), '--owner', uid, 'tunnelbot', ...k1], io)).toBe(0);
    expect(out).toEqual([]);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/cannot open the keyset .*missing\.json.*no tunnel key is valid/);
  });

  describe('the built bundle (what sshd runs)', () => {
    const bundle = join(REPO, 'dist/hpc-bridge-authorized-keys.mjs');
    beforeAll(() => {
      if (!existsSync(bundle)) execFileSync(process.execPath, [join(REPO, 'scripts/build.mjs')], { cwd: REPO, stdio: 'inherit' });
    });
    const run = (...args: string[]) => spawnSync(process.execPath, [bundle, '--keyset', file, '--owner', uid, ...args], { encoding: 'utf8' });

    it('prints one line for a live key, nothing otherwise, always status 0', () => {
      const hit = run('tunnelbot', ...k1);
      expect(hit.status).toBe(0);
      expect(hit.stdout.split('\n')).toEqual([`${keyOptions(40001, 8081)} ${k1.join(' ')}`, '']);
      for (const miss of [run('tunnelbot', ...stranger), run('alice', ...k1), run('tunnelbot', 'ssh-ed25519', 'AAAA')]) {
        expect(miss.status).toBe(0);
        expect(miss.stdout).toBe('');
      }
      chmodSync(file, 0o666);
      try {
        const refused = run('tunnelbot', ...k1);
        expect(refused.stdout).toBe('');
        expect(refused.stderr).toMatch(/world-writable .*no tunnel key is valid/);
      } finally {
        chmodSync(file, 0o644);
      }
    });

    it('stays small: node built-ins only (no express, pino, sqlite, yargs, zod)', () => {
      const text = execFileSync('grep', ['-oE', "from ['\"][^'\"]+['\"]|require\\(['\"][^'\"]+['\"]\\)", bundle], { encoding: 'utf8' });
      const modules = new Set(text.split('\n').filter(Boolean).map((l) => l.replace(/^from |^require\(|\)$/g, '').replace(/['"]/g, '')));
      for (const m of modules) expect(m, m).toMatch(/^node:/);
    });
  });
});
