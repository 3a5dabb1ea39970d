// `hpc-bridge try` against a running bridge, as an operator runs it: the real bundles
// (dist/hpc-bridge.mjs serve, and dist/hpc-wrap.mjs on the fork scheduler, whose jobs are
// plain processes here). A passing run shows each phase with its time and leaves no job
// behind; a bridge that is not running, or a job that cannot start, is said in plain words
// with exit 1; a session that is not ready in time is stopped and the timeout says the
// last thing the bridge said. (The same command against real Slurm over SSH:
// test/system/setup-path.test.ts; with the tunnel on: try-tunnel.test.ts here, and against
// real Slurm test/system/tunnel-sessions.test.ts.)
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { freePort } from '../../system/harness/ports.js';
import { runNode } from '../../support/run-node.js';

const REPO = resolve(import.meta.dirname, '../../..');
const BRIDGE = join(REPO, 'dist/hpc-bridge.mjs');
const WRAP = join(REPO, 'dist/hpc-wrap.mjs');
let dir: string;
let bridgeYaml: string;
let serve: ChildProcess | null = null;

const cli = (args: string[]) => runNode([BRIDGE, '--config', bridgeYaml, ...args], { timeoutMs: 120_000, env: { ...process.env, HPC_BRIDGE_CONFIG: '' } });

beforeAll(async () => {
  for (const b of [BRIDGE, WRAP]) if (!existsSync(b)) throw new Error(`${b} is missing: run npm run build first`);
  dir = mkdtempSync(join(tmpdir(), 'try-cmd-'));
  mkdirSync(join(dir, 'state'), { mode: 0o700 });
  const hpcYaml = join(dir, 'hpc-wrap.yaml');
  // A test stand-in for a hung module system (Lmod that never answers): a session of the
  // profile "stuck" never gets past its environment, so it is never ready.
  const hungLmod = join(dir, 'hung-lmod');
  writeFileSync(hungLmod, `#!/bin/sh\n# test stand-in: an Lmod that never answers\necho $$ > ${join(dir, 'hung-lmod.pid')}\nexec sleep 300\n`, { mode: 0o755 });
  writeFileSync(
    hpcYaml,
    stringify({
      workDir: join(dir, 'work'),
      scheduler: { kind: 'fork' },
      environments: {
        stuck: { modules: { load: ['python'], lmodCommand: [hungLmod], timeoutSeconds: 600 } },
        // the real Lmod, asked for a module no tree has: the job fails at once
        broken: { modules: { load: ['nosuch/1.0'] } },
      },
    }),
  );
  bridgeYaml = join(dir, 'hub-bridge.yaml');
  writeFileSync(
    bridgeYaml,
    stringify({
      listen: { host: '127.0.0.1', port: await freePort() },
      apiTokenFile: join(dir, 'state', 'api-token'),
      stateDb: join(dir, 'state', 'bridge.sqlite'),
      hubService: { enabled: false },
      cluster: { transport: { kind: 'local' }, hpcWrap: [process.execPath, WRAP, '--config', hpcYaml] },
      profiles: [
        { name: 'small', displayName: 'Small', resources: { cpus: 1, walltime: '00:10:00' } },
        { name: 'stuck', displayName: 'Never ready', resources: { cpus: 1, walltime: '00:10:00' }, environment: 'stuck' },
        { name: 'broken', displayName: 'Fails', resources: { cpus: 1, walltime: '00:10:00' }, environment: 'broken' },
      ],
    }),
  );
});

afterAll(async () => {
  if (serve?.pid && serve.exitCode === null) {
    serve.kill('SIGTERM');
    await new Promise((r) => serve!.once('exit', r));
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('hpc-bridge try', () => {
  it('says the bridge is not running, in plain words, with exit 1', async () => {
    const r = await cli(['try']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^hpc-bridge try: there is no API token at .*api-token yet: the bridge makes it on its first start; start the bridge first/m);
  });

  it('starts a throw-away session through the running bridge, prints each phase with its time, and stops it', async () => {
    serve = spawn(process.execPath, [BRIDGE, '--config', bridgeYaml, 'serve'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    serve.stderr!.on('data', (d) => (log += String(d)));
    await new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`bridge did not start: ${log}`)), 60_000);
      serve!.stderr!.on('data', () => log.includes('listening on') && (clearTimeout(t), res()));
    });
    const r = await cli(['try', '--user', 'alice', '--timeout', '60']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const phases = r.stdout.split('\n').map((l) => /^\s+\d+\.\d s {2}(\S+)/.exec(l)?.[1]).filter(Boolean);
    expect(phases[0]).toBe('bridge');
    expect(phases).not.toContain('tunnel'); // the tunnel is off here
    expect(phases).toEqual(expect.arrayContaining(['requested', 'ready', 'answers', 'stopped']));
    expect(phases.indexOf('ready')).toBeLessThan(phases.indexOf('answers'));
    expect(r.stdout).toMatch(/answers {4}http:\/\/127\.0\.0\.1:\d+\/user\/alice\/try-[0-9a-f]{6}\/api from node \S+/);
    expect(r.stdout).toMatch(/Smoke test passed in \d+\.\d s/);
    // Nothing left running: the session is stopped and its job is over.
    const token = readFileSync(join(dir, 'state', 'api-token'), 'utf8').trim();
    const port = parse(readFileSync(bridgeYaml, 'utf8')).listen.port as number;
    const res = await fetch(`http://127.0.0.1:${port}/v1/sessions?user=alice`, { headers: { Authorization: `Bearer ${token}` } });
    const { sessions } = (await res.json()) as { sessions: { state: string }[] };
    expect(sessions.map((s) => s.state)).toEqual(['stopped']);
  }, 150_000);

  it('a start the bridge refuses: its reason, exit 1', async () => {
    const r = await cli(['try', '--user', 'Bad User!', '--timeout', '30']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/hpc-bridge try: the bridge refused POST \/v1\/sessions \(400\): .*user name/);
  });

  it("a job that fails: one sentence for the operator with the job's last output and how it ended, exit 1, nothing left", async () => {
    const r = await cli(['try', '--user', 'carl', '--profile', 'broken', '--timeout', '60']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /^hpc-bridge try: FAILED: the session failed before it was ready: environment step "modules" failed: modules\.load: module 'nosuch\/1\.0' not found \(MODULEPATH: .*?\)( \(job fork-\d+, node \S+\))? \(Job fork-\d+ \(session \d+\) ended: state failed, exit code 1\)$/m,
    );
    // The phase line has the student's sentence; the details follow it, indented.
    expect(r.stdout).toMatch(/ failed {5}Your server stopped while it was starting: .*\n {20}Job fork-\d+ \(session \d+\) ended: state failed, exit code 1\.\n {20}Last lines of the job output:\n/);
    const phases = r.stdout.split('\n').map((l) => /^\s+\d+\.\d s {2}(\S+)/.exec(l)?.[1]).filter(Boolean);
    expect(phases.slice(-3)).toEqual(['failed', 'FAILED', 'stopped']);
    const token = readFileSync(join(dir, 'state', 'api-token'), 'utf8').trim();
    const port = parse(readFileSync(bridgeYaml, 'utf8')).listen.port as number;
    const res = await fetch(`http://127.0.0.1:${port}/v1/sessions?user=carl`, { headers: { Authorization: `Bearer ${token}` } });
    expect(((await res.json()) as { sessions: { state: string }[] }).sessions.map((x) => x.state)).toEqual(['failed']);
  }, 120_000);

  it('a session not ready in time: the timeout with what the bridge last said, exit 1, and the session stopped with its job', async () => {
    const r = await cli(['try', '--user', 'bob', '--profile', 'stuck', '--timeout', '5']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const said = /hpc-bridge try: FAILED: (not ready after 5 s, still (\w+): .*)$/m.exec(r.stderr);
    expect(said, r.stderr).not.toBeNull();
    expect(said![2]).toBe('starting'); // its job runs (fork), its environment never finishes
    // What the bridge last said, and where to look next.
    expect(said![1]).toMatch(/last event: Job \S+ is running on node \S+; starting your server/);
    expect(said![1]).toMatch(/the job's output\.log, in hpc-wrap's workDir under users\/bob\/sessions\/s-\w+\/, says where it stopped/);
    expect(r.stdout).toContain(`FAILED     ${said![1]}`);
    const phases = r.stdout.split('\n').map((l) => /^\s+\d+\.\d s {2}(\S+)/.exec(l)?.[1]).filter(Boolean);
    expect(phases.slice(-2)).toEqual(['FAILED', 'stopped']);
    const token = readFileSync(join(dir, 'state', 'api-token'), 'utf8').trim();
    const port = parse(readFileSync(bridgeYaml, 'utf8')).listen.port as number;
    const res = await fetch(`http://127.0.0.1:${port}/v1/sessions?user=bob`, { headers: { Authorization: `Bearer ${token}` } });
    const { sessions } = (await res.json()) as { sessions: { state: string }[] };
    expect(sessions.map((s) => s.state)).toEqual(['stopped']);
    // The job is over: the process it was stuck in is gone.
    const pid = Number(readFileSync(join(dir, 'hung-lmod.pid'), 'utf8'));
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 50 && alive(); i++) await new Promise((res) => setTimeout(res, 100));
    expect(alive()).toBe(false);
  }, 120_000);
});
