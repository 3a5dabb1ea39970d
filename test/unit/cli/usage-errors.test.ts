// Both programs treat a command-line mistake the same way: an unknown command or option is
// exit 2 with the reason, also with --help (which must not print the top-level help and
// exit 0 for a command that does not exist); --help of a real command is its own help.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../../..');
const BUNDLES = { 'hpc-wrap': join(REPO, 'dist/hpc-wrap.mjs'), 'hpc-bridge': join(REPO, 'dist/hpc-bridge.mjs') };

function run(bundle: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [bundle, ...args], { timeout: 30_000, env: { ...process.env, HPC_WRAP_CONFIG: '', HPC_BRIDGE_CONFIG: '' } }, (err, stdout, stderr) =>
      res({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

/** A command whose option is given without its value (yargs reports it from inside the command). */
const MISSING_VALUE: Record<string, [string[], string]> = {
  'hpc-wrap': [['wizard', '--out', '/nonexistent/hpc-wrap.yaml', '--work-dir'], 'work-dir'],
  'hpc-bridge': [['usage', '--from'], 'from'],
};

beforeAll(() => {
  for (const b of Object.values(BUNDLES)) if (!existsSync(b)) throw new Error(`${b} is missing: run npm run build first`);
});

describe.each(Object.entries(BUNDLES))('%s', (name, bundle) => {
  it.each([
    [['launchpad']],
    [['launchpad', '--help']],
    [['doctor', '--bogus-flag']],
    [['--bogus-flag', 'doctor']],
  ])('%j is a usage error: exit 2 with the reason, no help text', async (args) => {
    const r = await run(bundle, args);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    // (before the command, `--bogus-flag doctor` reads doctor as the flag's value: no command given)
    expect(r.stderr).toMatch(new RegExp(`^${name}: (Unknown arguments?: (launchpad|bogus-flag)|give a command)`));
    expect(r.stdout).not.toMatch(/Commands:/);
  });

  it('an option without its value is a usage error naming the option, exit 2, no stack trace', async () => {
    const [args, option] = MISSING_VALUE[name]!;
    const r = await run(bundle, args);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toContain(`${name}: Not enough arguments following: ${option}`);
    expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });

  it('--help alone and after a real command prints that help, exit 0', async () => {
    const top = await run(bundle, ['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Commands:/);
    const sub = await run(bundle, ['doctor', '--help']);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toMatch(new RegExp(`^${name} doctor`));
    expect(sub.stdout).not.toMatch(/Commands:/);
  });
});
