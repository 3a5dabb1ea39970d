// The bundle's V8 code cache (hpc-wrappers/code-cache.ts) changes nothing a user sees: the
// same answers with a fresh, a reused, a corrupt, a foreign or a switched-off cache; the
// cache is private (0700 dir, 0600 file) and one that is not the user's own is neither
// read nor overwritten.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, tempDir } from './support/hpc-wrap-bundle.js';

let dir: string;
let bundle: string;

beforeAll(async () => {
  dir = tempDir('code-cache-');
  bundle = await buildBundle(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capabilities(home: string, extra: NodeJS.ProcessEnv = {}): unknown {
  const env = { ...process.env, HOME: home, XDG_CACHE_HOME: '', HPC_WRAP_CONFIG: '', HPC_WRAP_CODE_CACHE: '', ...extra };
  return JSON.parse(execFileSync(process.execPath, [bundle, 'capabilities'], { cwd: home, env, timeout: 60_000 }).toString());
}

const cacheDir = (home: string) => join(home, '.cache', 'hpc-wrap');
function cacheFiles(home: string): string[] {
  return existsSync(cacheDir(home)) ? readdirSync(cacheDir(home)).filter((n) => !n.endsWith('.tmp')) : [];
}

describe('the code cache of the hpc-wrap bundle', () => {
  it('is written once, private, and reused; the answers are those without a cache', () => {
    const home = tempDir('home-');
    const expected = capabilities(home, { HPC_WRAP_CODE_CACHE: 'off' });
    expect(existsSync(cacheDir(home))).toBe(false);

    expect(capabilities(home)).toEqual(expected);
    const files = cacheFiles(home);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^code-op-[0-9a-f]{32}-\d+-\d+-\w+\.v8cache$/);
    const file = join(cacheDir(home), files[0]!);
    expect(statSync(cacheDir(home)).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const first = readFileSync(file);
    const mtime = statSync(file).mtimeMs;

    expect(capabilities(home)).toEqual(expected);
    expect(statSync(file).mtimeMs).toBe(mtime); // accepted, not rewritten
    expect(readFileSync(file).equals(first)).toBe(true);
    rmSync(home, { recursive: true, force: true });
  });

  it('a corrupt cache only costs a compile, and is replaced', () => {
    const home = tempDir('home-');
    const expected = capabilities(home);
    const file = join(cacheDir(home), cacheFiles(home)[0]!);
    writeFileSync(file, Buffer.from('not a V8 code cache'.repeat(100)));
    expect(capabilities(home)).toEqual(expected);
    expect(readFileSync(file).toString()).not.toContain('not a V8 code cache');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    rmSync(home, { recursive: true, force: true });
  });

  it('a cache directory others may write, or that is not the user\'s, is neither read nor written', () => {
    const home = tempDir('home-');
    const expected = capabilities(home);
    const file = join(cacheDir(home), cacheFiles(home)[0]!);
    const planted = Buffer.from('planted'.repeat(100));
    writeFileSync(file, planted);

    chmodSync(cacheDir(home), 0o770);
    expect(capabilities(home)).toEqual(expected);
    expect(readFileSync(file).equals(planted)).toBe(true);

    chmodSync(cacheDir(home), 0o700);
    if (process.geteuid?.() === 0) {
      chownSync(cacheDir(home), 65534, 65534);
      expect(capabilities(home)).toEqual(expected);
      expect(readFileSync(file).equals(planted)).toBe(true);
    }
    rmSync(home, { recursive: true, force: true });
  });

  it('`--version` compiles nothing and writes no cache; HPC_WRAP_CODE_CACHE=off writes none', () => {
    const home = tempDir('home-');
    const version = execFileSync(process.execPath, [bundle, '--version'], { env: { ...process.env, HOME: home, XDG_CACHE_HOME: '' } }).toString();
    expect(version).toMatch(/^\d+\.\d+\.\d+\S*\n$/);
    capabilities(home, { HPC_WRAP_CODE_CACHE: 'off' });
    expect(existsSync(join(home, '.cache'))).toBe(false);
    rmSync(home, { recursive: true, force: true });
  });
});
