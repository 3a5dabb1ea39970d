// The bridge's state is its account's alone (issue 8.4): a state dir or database file
// that other accounts can read is refused at start, with the chmod that fixes it; the
// database, its WAL and SHM are created 0600 in a 0700 dir; the real `hpc-bridge serve`
// refuses to start on such a dir and says why.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { SessionStore } from '../../../hub-bridge/store/session-store.js';
import { REPO } from '../../support/bridge-fixture.js';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'hpc-bridge-private-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const mode = (p: string) => statSync(p).mode & 0o777;

describe('the state directory and database', () => {
  it('are created private: dir 0700, database, WAL and SHM 0600', () => {
    const dir = join(root, 'fresh', 'state');
    const store = new SessionStore(join(dir, 'bridge.sqlite'));
    store.create({ id: 's-private-1', user: 'alice', serverName: '', profile: 'default', servicePrefix: '/user/alice/', submitDoc: '{}' }, null);
    try {
      expect(mode(dir)).toBe(0o700);
      const files = readdirSync(dir);
      expect(files).toEqual(expect.arrayContaining(['bridge.sqlite', 'bridge.sqlite-wal', 'bridge.sqlite-shm']));
      for (const f of files) expect(mode(join(dir, f)), f).toBe(0o600);
    } finally {
      store.close();
    }
  });

  it('a state dir others can enter is refused with the fix', () => {
    const dir = join(root, 'open-dir');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    expect(() => new SessionStore(join(dir, 'bridge.sqlite'))).toThrow(`is open to other accounts (mode 0755)`);
    expect(() => new SessionStore(join(dir, 'bridge.sqlite'))).toThrow(`Fix: chmod 700 ${dir}`);
  });

  it('a database file or WAL others can read is refused with the fix', () => {
    const dir = join(root, 'open-file');
    new SessionStore(join(dir, 'bridge.sqlite')).close();
    chmodSync(join(dir, 'bridge.sqlite'), 0o644);
    expect(() => new SessionStore(join(dir, 'bridge.sqlite'))).toThrow(`Fix: chmod 600 ${join(dir, 'bridge.sqlite')}`);
    chmodSync(join(dir, 'bridge.sqlite'), 0o600);
    new SessionStore(join(dir, 'bridge.sqlite')).close();
    const wal = join(dir, 'bridge.sqlite-wal');
    // a WAL left behind readable by others (an older version, a copy made by hand)
    writeFileSync(wal, '', { mode: 0o640 });
    chmodSync(wal, 0o640);
    expect(() => new SessionStore(join(dir, 'bridge.sqlite'))).toThrow(/bridge\.sqlite-wal \(a file of the state database\) is readable by other accounts \(mode 0640\)/);
  });

  it('hpc-bridge serve refuses to start on a readable state dir, naming the dir and the fix (exit non-zero, nothing served)', async () => {
    const dir = join(root, 'serve');
    mkdirSync(join(dir, 'state'), { recursive: true, mode: 0o755 });
    chmodSync(join(dir, 'state'), 0o755);
    const config = join(dir, 'hub-bridge.yaml');
    writeFileSync(config, stringify({ stateDb: 'state/bridge.sqlite', apiTokenFile: 'token', listen: { host: '127.0.0.1', port: 0 } }));
    const r = await run(process.execPath, [join(REPO, 'dist/hpc-bridge.mjs'), '--config', config, 'serve'], { timeout: 30_000 }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`chmod 700 ${join(dir, 'state')}`);
  });
});
