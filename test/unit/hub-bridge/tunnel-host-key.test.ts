// The tunnel endpoint's host key: made once (0600, directory 0700), the same key on every
// later start, refused when other accounts could read it or when it is not a key.
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HostKeyError, loadOrCreateHostKey } from '../../../hub-bridge/tunnel/host-key.js';

describe('tunnel endpoint host key', () => {
  it('is made on the first start with mode 0600 in a 0700 directory, and read back unchanged', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hostkey-')), 'state', 'tunnel-host-key');
    const first = loadOrCreateHostKey(file);
    expect(first.created).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(file, '..')).mode & 0o777).toBe(0o700);
    expect(first.key.publicKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}$/);
    expect(first.key.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const again = loadOrCreateHostKey(file);
    expect(again.created).toBe(false);
    expect(again.key.publicKey).toBe(first.key.publicKey);
    expect(readFileSync(file, 'utf8')).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
  });

  it('refuses a key file other accounts may read, saying how to fix it', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hostkey-')), 'k');
    loadOrCreateHostKey(file);
    chmodSync(file, 0o644);
    expect(() => loadOrCreateHostKey(file)).toThrow(new RegExp(`has mode 644: other accounts may read it; run chmod 600 ${file}`));
  });

  it('refuses a file that is not a private key, without showing its content', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hostkey-')), 'k');
    writeFileSync(file, 'ssh-ed25519 AAAAsecretish\n', { mode: 0o600 });
    const err = (() => {
      try {
        loadOrCreateHostKey(file);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(HostKeyError);
    expect(err!.message).toMatch(/is not an unencrypted OpenSSH private key/);
    expect(err!.message).not.toContain('secretish');
  });
});
