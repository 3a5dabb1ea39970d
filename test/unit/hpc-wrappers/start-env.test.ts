// `hpc-wrap start-env` run directly (as a job would): spool consumption, the server's
// environment, signal relay, exit status, and failures reported in the run dir. The
// contract's cases run twice: with start-env, and with the job launcher that startjob puts
// in a plain job's script instead (hpc-wrappers/job-launcher/start_job.py, in python3 with
// start-env as its fallback): both must leave the same behind.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launcherProgram } from '../../../hpc-wrappers/job-launcher/launcher-script.js';
import { buildBundle, makeWorkspace, tempDir, waitFor, type Workspace } from './support/hpc-wrap-bundle.js';

const SECRET = 'api-token-e2b7c4d1';
let bundle: string;
let ws: Workspace;
let n = 0;

beforeAll(async () => {
  bundle = await buildBundle(tempDir());
  ws = makeWorkspace(bundle);
});
afterAll(() => ws.cleanup());

/** A run dir with the spool startjob would have written. */
/** `runtime: null`: a job.json written before startjob added the runtime block. */
function runDirWithSpool(command: string[], opts: { home?: string | null; env?: Record<string, string>; runtime?: unknown; job?: Record<string, unknown> } = {}) {
  const runDir = join(ws.workDir, 'users', 'alice', 'sessions', `s-${String(++n).padStart(26, 'a')}`);
  mkdirSync(join(runDir, 'spool'), { recursive: true, mode: 0o700 });
  writeFileSync(join(runDir, 'spool', 'secrets.json'), JSON.stringify({ env: opts.env ?? { JUPYTERHUB_API_TOKEN: SECRET, JUPYTERHUB_SERVICE_PREFIX: '/user/alice' } }), { mode: 0o600 });
  writeFileSync(
    join(runDir, 'spool', 'job.json'),
    JSON.stringify({
      version: 1,
      sessionId: 's-x',
      user: 'alice',
      serverName: '',
      command,
      home: opts.home === undefined ? join(ws.workDir, 'homes', 'alice') : opts.home,
      jupyter: { bindAddress: '127.0.0.1', portRange: { start: 50000, end: 50100 } },
      logFile: ws.logFile,
      ...(opts.runtime === null ? {} : { runtime: opts.runtime ?? { perUser: false, jobIdVariable: 'HPC_WRAP_JOB_ID', logLevel: 'info', logFile: ws.logFile } }),
      createdAt: new Date().toISOString(),
      ...opts.job,
    }),
  );
  writeFileSync(join(runDir, 'job.sh'), '#!/bin/sh\n', { mode: 0o700 });
  return runDir;
}

type Run = ReturnType<typeof startEnv>;

function startEnv(runDir: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [bundle, '--config', ws.configPath, 'start-env', '--run-dir', runDir, ...extra], {
    env: { ...process.env, HPC_WRAP_SOMETHING: 'x', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return watch(child);
}

/** The launcher as the job script runs it: its program on stdin, start-env's command as the fallback. */
function launcher(runDir: string, env: NodeJS.ProcessEnv = {}) {
  const fallback = [process.execPath, bundle, '--config', ws.configPath, 'start-env', '--run-dir', runDir];
  const child = spawn('/usr/bin/python3', ['-E', '-s', '-S', '-', '--run-dir', runDir, '--', ...fallback], {
    env: { ...process.env, HPC_WRAP_SOMETHING: 'x', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end(launcherProgram());
  return watch(child);
}

function watch(child: ReturnType<typeof spawn>) {
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

const json = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

const programs: Array<[string, (runDir: string, env?: NodeJS.ProcessEnv) => Run, string]> = [
  ['start-env', (runDir, env) => startEnv(runDir, [], env), 'node'],
  ['the job launcher', launcher, 'python3'],
];

describe.each(programs)('%s', (_name, start, parent) => {
  it(`builds the server environment from the job env, the hub secrets, HOME and the service URL; the server's parent is ${parent}`, async () => {
    const probe = `const e = process.env; console.log(JSON.stringify({ url: e.JUPYTERHUB_SERVICE_URL, home: e.HOME, cwd: process.cwd(), token: e.JUPYTERHUB_API_TOKEN === ${JSON.stringify(SECRET)}, path: Boolean(e.PATH), wrapVars: Object.keys(e).filter((k) => k.startsWith('HPC_WRAP_')), parent: require('node:fs').readFileSync('/proc/' + process.ppid + '/comm', 'utf8').trim() }))`;
    const runDir = runDirWithSpool([process.execPath, '-e', probe]);
    const run = start(runDir);
    expect(await run.exited).toBe(0);
    const line = run.output().split('\n').find((l) => l.startsWith('{"url"'))!;
    const seen = JSON.parse(line);
    const status = json(join(runDir, 'status.json'));
    const home = join(ws.workDir, 'homes', 'alice');
    expect(seen).toEqual({ url: `http://127.0.0.1:${status.port}/user/alice/`, home, cwd: home, token: true, path: true, wrapVars: [], parent });
    expect(status.port).toBeGreaterThanOrEqual(50000);
    expect(status.port).toBeLessThanOrEqual(50100);
    expect(status).toMatchObject({ phase: 'exited', host: '127.0.0.1', message: 'the server exited with status 0' });
    expect(json(join(runDir, 'exit.json'))).toMatchObject({ exitCode: 0, signal: null });
    for (const f of ['spool/secrets.json', 'spool/job.json', 'job.sh']) expect(existsSync(join(runDir, f)), f).toBe(false);
    expect(run.output()).not.toContain(SECRET);
  });

  it('relays signals to the server and exits 128+signal when the server dies of one', async () => {
    const server = [
      process.execPath,
      '-e',
      [
        "const url = new URL(process.env.JUPYTERHUB_SERVICE_URL);",
        "require('node:http').createServer((q, s) => s.end('ok')).listen(Number(url.port), url.hostname);",
        "process.on('SIGUSR1', () => console.log('server got SIGUSR1'));",
        "process.on('SIGTERM', () => { console.log('server got SIGTERM'); process.removeAllListeners('SIGTERM'); process.kill(process.pid, 'SIGTERM'); });",
      ].join('\n'),
    ];
    const runDir = runDirWithSpool(server);
    const run = start(runDir);
    await waitFor(async () => existsSync(join(runDir, 'status.json')) && json(join(runDir, 'status.json')).phase === 'listening', 'listening');
    run.child.kill('SIGUSR1');
    await waitFor(async () => run.output().includes('server got SIGUSR1'), 'SIGUSR1 relayed');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(143);
    expect(run.output()).toContain('server got SIGTERM');
    expect(json(join(runDir, 'exit.json'))).toMatchObject({ exitCode: null, signal: 'SIGTERM' });
    expect(json(join(runDir, 'status.json'))).toMatchObject({ phase: 'exited', message: 'the server was killed by SIGTERM' });
  });

  it('fails clearly when the spool was already consumed (a requeued job), recording it in the run dir', async () => {
    const runDir = runDirWithSpool([process.execPath, '-e', '0']);
    expect(await start(runDir).exited).toBe(0);
    const again = start(runDir);
    expect(await again.exited).toBe(1);
    expect(again.output()).toMatch(/already consumed/);
    expect(json(join(runDir, 'status.json'))).toMatchObject({ phase: 'exited', message: expect.stringMatching(/already consumed/) });
    expect(json(join(runDir, 'exit.json'))).toMatchObject({ exitCode: 1 });
  });

  it('reports a command that cannot be started', async () => {
    const runDir = runDirWithSpool(['/nonexistent/jupyterhub-singleuser']);
    const run = start(runDir);
    expect(await run.exited).toBe(127);
    expect(json(join(runDir, 'status.json')).message).toMatch(/cannot start \/nonexistent\/jupyterhub-singleuser/);
  });

  it('never writes the secret to the log', () => {
    expect(readFileSync(ws.logFile, 'utf8')).toContain('start-env.exited');
    expect(readFileSync(ws.logFile, 'utf8')).not.toContain(SECRET);
  });
  it('a second job of the session (its id is not the recorded one) leaves at once, touching nothing', async () => {
    const runDir = runDirWithSpool([process.execPath, '-e', 'process.exit(0)']);
    writeFileSync(join(runDir, 'jobid'), '4711\n');
    const run = start(runDir, { HPC_WRAP_JOB_ID: '4712' });
    expect(await run.exited).toBe(0);
    expect(run.output()).toMatch(/this job \(4712\) is a duplicate: the session's job is 4711/);
    expect(existsSync(join(runDir, 'spool', 'job.json'))).toBe(true);
    expect(existsSync(join(runDir, 'status.json'))).toBe(false);
  });
});

describe('start-env only', () => {
  it('runs the command after -- instead of the hub command, keeping the working directory without a home', async () => {
    const runDir = runDirWithSpool(['/nonexistent/hub-cmd'], { home: null });
    const run = startEnv(runDir, ['--', process.execPath, '-e', 'console.log("cwd=" + process.cwd()); process.exit(5)']);
    expect(await run.exited).toBe(5);
    expect(run.output()).toContain(`cwd=${process.cwd()}`);
    expect(json(join(runDir, 'exit.json'))).toMatchObject({ exitCode: 5, signal: null });
  });

  it('takes the run dir from $HPC_WRAP_RUN_DIR', async () => {
    const runDir = runDirWithSpool([process.execPath, '-e', 'process.exit(0)']);
    const child = spawn(process.execPath, [bundle, 'start-env'], { env: { ...process.env, HPC_WRAP_RUN_DIR: runDir, HPC_WRAP_CONFIG: ws.configPath }, stdio: 'ignore' });
    expect(await new Promise((r) => child.on('close', r))).toBe(0);
    expect(json(join(runDir, 'exit.json'))).toMatchObject({ exitCode: 0 });
  });

  it("a job startjob wrote starts from job.json's runtime, without reading hpc-wrap.yaml (gone from the node here)", async () => {
    const runDir = runDirWithSpool([process.execPath, '-e', 'process.exit(3)'], {
      runtime: { perUser: false, jobIdVariable: 'HPC_WRAP_JOB_ID', logLevel: 'info', logFile: ws.logFile },
    });
    const child = spawn(process.execPath, [bundle, '--config', join(ws.workDir, 'no-such-hpc-wrap.yaml'), 'start-env', '--run-dir', runDir], { stdio: 'ignore' });
    expect(await new Promise((r) => child.on('close', r))).toBe(3);
    expect(json(join(runDir, 'exit.json'))).toMatchObject({ exitCode: 3 });
    expect(readFileSync(ws.logFile, 'utf8')).toMatch(/"event":"start-env.exited".*"exitCode":3/);
  });

  it('a job.json without a runtime (an older hpc-wrap submitted it) reads the config: its problem is reported', async () => {
    const runDir = runDirWithSpool([process.execPath, '-e', 'process.exit(0)'], { runtime: null });
    const bad = join(ws.workDir, 'bad-hpc-wrap.yaml');
    writeFileSync(bad, 'nonsense: 1\n');
    const child = spawn(process.execPath, [bundle, '--config', bad, 'start-env', '--run-dir', runDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    expect(await new Promise((r) => child.on('close', r))).not.toBe(0);
    expect(out).toMatch(/bad-hpc-wrap\.yaml: 1 problem/);
    expect(existsSync(join(runDir, 'spool', 'job.json'))).toBe(true); // nothing was consumed
  });

});

describe('the job launcher hands what it does not run to start-env', () => {
  it('a job with a step only start-env has (here a software environment), a job.json without a runtime: start-env runs it', async () => {
    const probe = [process.execPath, '-e', "console.log('parent=' + require('node:fs').readFileSync('/proc/' + process.ppid + '/comm', 'utf8').trim())"];
    const environment = { name: 'plain', spec: { description: '', container: null, modules: null, conda: null } };
    for (const runDir of [runDirWithSpool(probe, { runtime: null }), runDirWithSpool(probe, { job: { environment } })]) {
      const run = launcher(runDir);
      expect(await run.exited).toBe(0);
      expect(run.output()).toContain('parent=node');
      expect(json(join(runDir, 'exit.json'))).toMatchObject({ exitCode: 0, signal: null });
    }
  });

  it('the hpc-wrap file carries the same launcher text as the sources (for batchspawner-singleuser)', () => {
    const file = readFileSync(bundle, 'latin1');
    const start = file.lastIndexOf('\n/*hpc-wrap-launcher\n') + '\n/*hpc-wrap-launcher\n'.length;
    const end = file.indexOf('\n#end-hpc-wrap-launcher\n', start);
    expect(Buffer.from(file.slice(start, end), 'latin1').toString('utf8')).toBe(launcherProgram());
  });

  it('logs which program started the server', () => {
    expect(readFileSync(ws.logFile, 'utf8')).toMatch(/"event":"start-env.starting".*"launcher":"python"/);
  });
});
