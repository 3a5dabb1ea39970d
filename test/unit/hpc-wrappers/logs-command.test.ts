// `hpc-wrap logs` on a work dir made by the bundle itself (fork scheduler, real jobs):
// the application log for people, filtered by user and job; a job's output; --follow.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, makeWorkspace, startRequest, tempDir, waitFor, type Workspace } from './support/hpc-wrap-bundle.js';

let bundle: string;
let ws: Workspace;
const started: string[] = [];
let alice: { jobId: string; sessionId: string };
let bob: { jobId: string; sessionId: string };
const BOB = 'Bob.B@uni';

async function startjob(user: string) {
  const r = await ws.wrap.run(['startjob'], { input: JSON.stringify(startRequest({ user })) });
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const out = r.json as { jobId: string; sessionId: string };
  started.push(out.jobId);
  return out;
}

async function listening(jobId: string) {
  await waitFor(async () => {
    const r = await ws.wrap.run(['jobstate', jobId]);
    return (r.json as { jobs: Record<string, { server: { phase: string } | null }> }).jobs[jobId]?.server?.phase === 'listening';
  }, `job ${jobId} to listen`);
}

const logs = async (...args: string[]) => ws.wrap.run(['logs', ...args]);

beforeAll(async () => {
  bundle = await buildBundle(tempDir());
  ws = makeWorkspace(bundle);
  alice = await startjob('alice');
  bob = await startjob(BOB);
  await listening(alice.jobId);
  await listening(bob.jobId);
  expect((await ws.wrap.run(['killjob', alice.jobId])).code).toBe(0);
});
afterAll(async () => {
  for (const id of started) await ws.wrap.run(['killjob', id]);
  ws.cleanup();
});

describe('hpc-wrap logs (application log)', () => {
  it('prints entries for people: time, level, command, event, then the fields', async () => {
    const r = await logs('--lines', '100');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('{"time"');
    const submitted = r.stdout.split('\n').filter((l) => l.includes('startjob.submitted'));
    expect(submitted).toHaveLength(2);
    expect(submitted[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO  startjob  startjob\.submitted {2}sessionId=s-[a-z2-7]{26} {2}user=alice {2}serverName="" {2}jobId=fork-\d+/);
  });

  it("--user shows the user's entries, including those naming only the session or the job", async () => {
    const r = await logs('--user', 'alice', '--lines', '100');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`startjob.submitted  sessionId=${alice.sessionId}`);
    expect(r.stdout).toMatch(new RegExp(`start-env\\.listening  sessionId=${alice.sessionId}`)); // no user field in that entry
    expect(r.stdout).toMatch(new RegExp(`killjob\\.cancelled  jobId=${alice.jobId}`)); // only the job id
    expect(r.stdout).not.toContain(bob.sessionId);
    expect(r.stdout).not.toContain(BOB);
  });

  it("--job shows that job's entries only; --lines limits to the last N", async () => {
    const r = await logs('--job', bob.jobId, '--lines', '100');
    expect(r.stdout).toContain(`sessionId=${bob.sessionId}`);
    expect(r.stdout).not.toContain(alice.sessionId);
    const one = await logs('--job', bob.jobId, '--lines', '1');
    expect(one.stdout.trim().split('\n')).toHaveLength(1);
    expect(one.stdout).toContain(bob.sessionId);
  });

  it('refuses a user name or job id that is not valid (exit 2, what is allowed)', async () => {
    const badUser = await logs('--user', '../etc');
    expect(badUser.code).toBe(2);
    expect(badUser.stderr).toContain('must start with a letter or digit');
    const badJob = await logs('--job', '1;rm -rf /');
    expect(badJob.code).toBe(2);
    expect(badJob.stderr).toContain('job id "1;rm -rf /" is not valid');
  });
});

describe('hpc-wrap logs --job-output', () => {
  it('prints the output of a job by its id', async () => {
    const r = await logs('--job-output', '--job', alice.jobId);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('tiny-server listening on 127.0.0.1:');
  });

  it("prints the output of the user's newest session", async () => {
    const r = await logs('--job-output', '--user', BOB);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('tiny-server listening');
  });

  it('says what is wrong for an unknown job, a job of someone else, or no selection', async () => {
    expect((await logs('--job-output', '--job', 'fork-99999')).stderr).toContain('no job fork-99999');
    const other = await logs('--job-output', '--job', bob.jobId, '--user', 'alice');
    expect(other.code).toBe(2);
    expect(other.stderr).toContain(`job ${bob.jobId} is not a job of alice`);
    expect((await logs('--job-output')).stderr).toContain('--job-output needs --job ID or --user NAME');
  });
});

describe('hpc-wrap logs --follow', () => {
  function follow(args: string[]): { child: ChildProcess; out: () => string } {
    const child = spawn(process.execPath, [ws.wrap.bundle, '--config', ws.configPath, 'logs', '--follow', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    return { child, out: () => out };
  }
  const exited = (c: ChildProcess) => new Promise<number | null>((r) => c.on('exit', (code) => r(code)));

  it("prints new entries of the user as they are written, and stops on Ctrl-C (SIGINT)", async () => {
    const f = follow(['--user', 'alice', '--lines', '0']);
    await new Promise((r) => setTimeout(r, 500)); // the follower has read to the end
    const again = await startjob('alice');
    const other = await startjob(BOB);
    await waitFor(async () => f.out().includes(`startjob.submitted  sessionId=${again.sessionId}`), 'the new entry');
    expect(f.out()).not.toContain(other.sessionId);
    const done = exited(f.child);
    f.child.kill('SIGINT');
    expect(await done).toBe(0);
  });

  it("follows a job's output until Ctrl-C", async () => {
    await listening(bob.jobId);
    const f = follow(['--job-output', '--job', bob.jobId, '--lines', '5']);
    await waitFor(async () => f.out().includes('tiny-server listening'), 'the existing output');
    expect((await ws.wrap.run(['killjob', bob.jobId])).code).toBe(0);
    await waitFor(async () => f.out().includes('tiny-server got SIGTERM'), 'the new output line');
    const done = exited(f.child);
    f.child.kill('SIGINT');
    expect(await done).toBe(0);
  });
});
