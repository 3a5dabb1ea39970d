// The fork scheduler when a submit is interrupted (its hpc-wrap killed) at any point: a
// retried startjob looks for the session's marker (findMarked) and must find every job the
// killed submit may have started, so that the session gets exactly one job. The marker is
// written before the supervisor starts; a marked job whose supervisor is still starting is
// waited for; one whose supervisor never started is abandoned, and a supervisor that starts
// after that never runs the job's script.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForkAdapter, forkJobFiles } from '../../../hpc-wrappers/schedulers/fork/fork.js';
import { buildBundle, tempDir } from './support/hpc-wrap-bundle.js';

let bundle: string;
let dir: string;
let forkDir: string;
let adapter: ForkAdapter;

beforeAll(async () => {
  dir = tempDir();
  bundle = await buildBundle(dir);
  forkDir = join(dir, 'fork');
  adapter = new ForkAdapter(forkDir, [process.execPath, bundle]);
});
afterAll(async () => {
  const ids = existsSync(forkDir) ? readdirSync(forkDir).filter((n) => n.startsWith('fork-')) : [];
  for (const id of ids) await adapter.cancel(id);
});

/** A job script that leaves a file behind when it runs. */
function script(name: string): { path: string; ran: string; output: string } {
  const path = join(dir, `${name}.sh`);
  const ran = join(dir, `${name}.ran`);
  writeFileSync(path, `#!/bin/sh\necho ran > '${ran}'\nsleep 30\n`, { mode: 0o755 });
  return { path, ran, output: join(dir, `${name}.out`) };
}

/** What a submit killed right after writing the marker leaves: the job's directory and its marker, no supervisor. */
function markedWithoutSupervisor(id: string, marker: string, ageMs = 0): void {
  const f = forkJobFiles(forkDir, id);
  mkdirSync(f.dir, { recursive: true, mode: 0o700 });
  writeFileSync(f.marker, `${marker}\n`);
  if (ageMs) utimesSync(f.dir, new Date(Date.now() - ageMs), new Date(Date.now() - ageMs));
}

/** Starts a supervisor as the killed submit had: `hpc-wrap fork-run` for that directory. */
function startSupervisor(id: string, s: { path: string; output: string }): void {
  const child = spawn(process.execPath, [bundle, 'fork-run', '--job-dir', join(forkDir, id), '--script', s.path, '--output', s.output], { detached: true, stdio: 'ignore' });
  child.unref();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('fork: a submit interrupted at any point leaves nothing a retry cannot find', () => {
  it('a submitted job is found by its marker, running', async () => {
    const s = script('plain');
    const { jobId } = await adapter.submit({ name: 'hpc-plain', scriptPath: s.path, outputPath: s.output, chdir: null, resources: null, env: {}, marker: 'hpc-bridge:s-plain' });
    const marked = await adapter.findMarked('hpc-bridge:s-plain');
    expect(marked.jobs.map((j) => [j.jobId, j.state])).toEqual([[jobId, 'running']]);
  });

  it('a marked job whose supervisor is still starting is waited for and found (the retry adopts it, no second job)', async () => {
    const s = script('starting');
    markedWithoutSupervisor('fork-900001', 'hpc-bridge:s-starting');
    // the killed submit's supervisor comes up while the retry looks (a Node start: ~0.1-1 s)
    startSupervisor('fork-900001', s);
    const marked = await adapter.findMarked('hpc-bridge:s-starting');
    expect(marked.jobs.map((j) => [j.jobId, j.state])).toEqual([['fork-900001', 'running']]);
    for (let i = 0; i < 100 && !existsSync(s.ran); i++) await sleep(50);
    expect(existsSync(s.ran)).toBe(true);
  });

  it('a marked job whose supervisor never started is abandoned: not found, and a supervisor starting late never runs its script', async () => {
    const s = script('never');
    markedWithoutSupervisor('fork-900002', 'hpc-bridge:s-never', 9_000); // its start window (10 s) ends in ~1 s
    const t0 = Date.now();
    const marked = await adapter.findMarked('hpc-bridge:s-never');
    expect(marked.jobs).toEqual([]); // the retry submits anew
    expect(Date.now() - t0).toBeLessThan(5_000); // waited out the start window only
    expect((await adapter.query(['fork-900002'])).jobs.get('fork-900002')?.state).toBe('cancelled');
    // the killed submit's supervisor after all (a very slow start): the script does not run
    startSupervisor('fork-900002', s);
    const exit = forkJobFiles(forkDir, 'fork-900002').exit;
    for (let i = 0; i < 200 && !existsSync(exit); i++) await sleep(50);
    expect(existsSync(exit)).toBe(true);
    await sleep(300);
    expect(existsSync(s.ran)).toBe(false);
    expect(readFileSync(s.output, 'utf8')).toMatch(/cancelled before its supervisor had started/);
    expect((await adapter.query(['fork-900002'])).jobs.get('fork-900002')?.state).toBe('cancelled');
  });

  it('a job cancelled before its supervisor started never runs its script', async () => {
    const s = script('early-cancel');
    markedWithoutSupervisor('fork-900003', 'hpc-bridge:s-early');
    await adapter.cancel('fork-900003');
    expect((await adapter.query(['fork-900003'])).jobs.get('fork-900003')?.state).toBe('cancelled');
    startSupervisor('fork-900003', s);
    const exit = forkJobFiles(forkDir, 'fork-900003').exit;
    for (let i = 0; i < 200 && !existsSync(exit); i++) await sleep(50);
    await sleep(300);
    expect(existsSync(s.ran)).toBe(false);
    expect((await adapter.findMarked('hpc-bridge:s-early')).jobs).toEqual([]);
  });
});
