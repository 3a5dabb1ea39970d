// conda.pack, for real: the test builds a small "packed environment" the way conda-pack
// lays one out (the prefix's content at the archive root, bin/conda-unpack that rewrites
// the packed prefix into the new location), start-env unpacks it into node-local scratch,
// runs conda-unpack once and activates it; the server finds the env's program on PATH.
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, makeWorkspace, tempDir, type Workspace } from './support/hpc-wrap-bundle.js';
import { envReporter, reportedEnv, runStartEnv, statusOf, writeRunDir } from './support/software-env.js';

const PLACEHOLDER = '/opt/conda-pack-placeholder/envs/demo';
let bundle: string;
let ws: Workspace;
let tarball: string;
let scratch: string;

/** A packed env: bin/hello prints the prefix baked into it; conda-unpack rewrites it. */
async function makePack(file: string): Promise<void> {
  const src = join(ws.dir, 'pack-src');
  mkdirSync(join(src, 'bin'), { recursive: true });
  mkdirSync(join(src, 'conda-meta'), { recursive: true });
  mkdirSync(join(src, 'etc'), { recursive: true });
  writeFileSync(join(src, 'conda-meta', 'history'), '==> packed <==\n');
  writeFileSync(join(src, 'etc', 'prefix.txt'), `${PLACEHOLDER}\n`);
  writeFileSync(join(src, 'bin', 'hello'), `#!/bin/sh\necho "hello from ${PLACEHOLDER}"\n`, { mode: 0o755 });
  // Like conda-pack's conda-unpack (a script of the env run with the env first on PATH):
  // replace the packed prefix by where the env is now, in text files.
  const unpack = [
    '#!/usr/bin/env node',
    "const fs = require('fs'), path = require('path');",
    'const prefix = path.dirname(path.dirname(fs.realpathSync(process.argv[1])));',
    `const old = ${JSON.stringify(PLACEHOLDER)};`,
    "for (const f of ['bin/hello', 'etc/prefix.txt']) { const p = path.join(prefix, f); fs.writeFileSync(p, fs.readFileSync(p, 'utf8').split(old).join(prefix)); }",
    "fs.appendFileSync(path.join(prefix, 'conda-unpack.ran'), 'ran\\n');",
  ].join('\n');
  writeFileSync(join(src, 'bin', 'conda-unpack'), `${unpack}\n`, { mode: 0o755 });
  chmodSync(join(src, 'bin', 'hello'), 0o755);
  chmodSync(join(src, 'bin', 'conda-unpack'), 0o755);
  await create({ gzip: true, file, cwd: src, portable: true }, ['bin', 'conda-meta', 'etc']);
}

const runHello = "const helloOut = require('child_process').execFileSync('hello', { encoding: 'utf8' }).trim(); console.log('HELLO ' + helloOut);";

beforeAll(async () => {
  bundle = await buildBundle(tempDir());
  ws = makeWorkspace(bundle);
  scratch = join(ws.dir, 'scratch');
  mkdirSync(scratch);
  tarball = join(ws.dir, 'demo-env.tar.gz');
  await makePack(tarball);
});
afterAll(() => ws.cleanup());

describe('conda.pack (a real conda-pack layout, unpacked with the tar package)', () => {
  it('unpacks into <scratch>/hpc-wrap-<session>/conda-<hash>, runs conda-unpack once, activates by prefix, cleans up', async () => {
    const { runDir, sessionId } = writeRunDir(ws, envReporter(runHello), { environment: { conda: { pack: tarball, scratch } } });
    const run = runStartEnv(bundle, ws, runDir);
    expect(await run.exited, run.output()).toBe(0);
    const { env } = reportedEnv(run.output());
    const jobScratch = join(scratch, `hpc-wrap-${sessionId}`);
    expect(env.CONDA_PREFIX).toMatch(new RegExp(`^${jobScratch}/conda-[0-9a-f]{16}$`));
    expect(env.PATH!.split(':')[0]).toBe(`${env.CONDA_PREFIX}/bin`);
    expect(env.CONDA_DEFAULT_ENV).toBe('demo-env');
    expect(env.CONDA_SHLVL).toBe('1');
    // bin/hello was found on PATH and prints the rewritten prefix: conda-unpack ran.
    expect(run.output()).toContain(`HELLO hello from ${env.CONDA_PREFIX}\n`);
    expect(run.output()).toMatch(/unpacked .*demo-env\.tar\.gz into /);
    // The per-job scratch directory is gone after the server ended.
    expect(existsSync(jobScratch)).toBe(false);
  });

  it('keeps the scratch directory with keepScratch (0700, conda-unpack ran exactly once)', async () => {
    const { runDir, sessionId } = writeRunDir(ws, envReporter(runHello), { environment: { conda: { pack: tarball, scratch, keepScratch: true, env: 'demo' } } });
    const run = runStartEnv(bundle, ws, runDir);
    expect(await run.exited, run.output()).toBe(0);
    const jobScratch = join(scratch, `hpc-wrap-${sessionId}`);
    const [packDir] = readdirSync(jobScratch);
    expect(packDir).toMatch(/^conda-[0-9a-f]{16}$/);
    expect(readFileSync(join(jobScratch, packDir!, 'conda-unpack.ran'), 'utf8')).toBe('ran\n');
    expect(readFileSync(join(jobScratch, packDir!, 'etc', 'prefix.txt'), 'utf8')).toBe(`${join(jobScratch, packDir!)}\n`);
    expect((await import('node:fs')).statSync(jobScratch).mode & 0o777).toBe(0o700);
    expect(reportedEnv(run.output()).env.CONDA_DEFAULT_ENV).toBe('demo');
  });

  it('fails fast naming conda.pack when the tarball does not exist, before making anything', async () => {
    const missing = join(ws.dir, 'nope', 'env.tar.gz');
    const { runDir, sessionId } = writeRunDir(ws, envReporter(), { environment: { conda: { pack: missing, scratch } } });
    const started = Date.now();
    const run = runStartEnv(bundle, ws, runDir);
    expect(await run.exited).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(statusOf(runDir)).toMatchObject({ phase: 'exited', message: expect.stringContaining(`conda.pack: ${missing} does not exist`) });
    expect(run.output()).toContain(`conda.pack: ${missing} does not exist`);
    expect(existsSync(join(scratch, `hpc-wrap-${sessionId}`))).toBe(false);
  });

  it('refuses a tarball that conda-pack did not make (no bin/conda-unpack) and removes what it unpacked', async () => {
    const plain = join(ws.dir, 'plain.tar.gz');
    await create({ gzip: true, file: plain, cwd: join(ws.dir, 'pack-src'), portable: true }, ['etc']);
    const { runDir, sessionId } = writeRunDir(ws, envReporter(), { environment: { conda: { pack: plain, scratch } } });
    const run = runStartEnv(bundle, ws, runDir);
    expect(await run.exited).toBe(1);
    expect(statusOf(runDir).message).toContain(`conda.pack: ${plain} has no bin/conda-unpack`);
    expect(existsSync(join(scratch, `hpc-wrap-${sessionId}`))).toBe(false);
  });

  it('never writes outside the scratch directory (an entry with ..)', async () => {
    const evilDir = join(ws.dir, 'evil', 'inner');
    mkdirSync(evilDir, { recursive: true });
    writeFileSync(join(ws.dir, 'evil', 'escaped.txt'), 'outside\n');
    const evil = join(ws.dir, 'evil.tar.gz');
    await create({ gzip: true, file: evil, cwd: evilDir, preservePaths: true }, ['../escaped.txt']);
    const { runDir, sessionId } = writeRunDir(ws, envReporter(), { environment: { conda: { pack: evil, scratch, keepScratch: true } } });
    const run = runStartEnv(bundle, ws, runDir);
    expect(await run.exited).toBe(1);
    expect(statusOf(runDir).message).toMatch(/conda\.pack: cannot unpack .*path contains '\.\.'/);
    expect(existsSync(join(scratch, `hpc-wrap-${sessionId}`, 'escaped.txt'))).toBe(false);
    expect(existsSync(join(scratch, 'escaped.txt'))).toBe(false);
  });

  it('names conda.pack when the file is not a tarball', async () => {
    const junk = join(ws.dir, 'junk.tar.gz');
    writeFileSync(junk, 'this is not a tarball\n'.repeat(50));
    const { runDir } = writeRunDir(ws, envReporter(), { environment: { conda: { pack: junk, scratch } } });
    const run = runStartEnv(bundle, ws, runDir);
    expect(await run.exited).toBe(1);
    expect(statusOf(runDir).message).toMatch(/conda\.pack: cannot unpack .*junk\.tar\.gz/);
  });
});
