// The long-lived `hpc-wrap agent` (contract/agent.ts) against the real bundle on the fork
// scheduler: frames, the bridge's use of it (hot-path commands never start hpc-wrap), its
// restart when killed in the middle of a spawn (the spawn completes with exactly one job),
// the version check, identity-sudo steps staying one-shot as the user, and readiness
// pushed from the run dir instead of waiting for a status tick.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../../hub-bridge/cluster/agent-client.js';
import { HpcWrapClient } from '../../../hub-bridge/cluster/hpc-wrap-client.js';
import { createLogger } from '../../../hub-bridge/log.js';
import { LocalTransport } from '../../../hub-bridge/transport/local-transport.js';
import { startBridgeFixture, HPC_WRAP, REPO, STAND_IN_SERVER, waitFor, writeConfigs, type BridgeFixture } from '../../support/bridge-fixture.js';

const PKG_VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const env = (user: string) => ({ JUPYTERHUB_API_TOKEN: 'hub-secret-token-0123456789', JUPYTERHUB_SERVICE_PREFIX: `/user/${user}/`, JUPYTERHUB_USER: user });
const body = (user: string, extra: Record<string, unknown> = {}) => ({ user, env: env(user), command: [process.execPath, STAND_IN_SERVER], ...extra });

/** Fork jobs whose supervisor ran (a job dir whose submit was killed before the spawn is none). */
function forkJobs(workDir: string): string[] {
  const d = join(workDir, 'fork');
  return existsSync(d) ? readdirSync(d).filter((n) => /^fork-\d+$/.test(n) && existsSync(join(d, n, 'supervisor.json'))) : [];
}

function logSink(): { log: ReturnType<typeof createLogger>; text: () => string } {
  let text = '';
  const sink = new Writable({
    write(c, _e, cb) {
      text += String(c);
      cb();
    },
  });
  return { log: createLogger('debug', sink), text: () => text };
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('hpc-wrap agent frames (the bundle)', () => {
  it('says hello with its version, answers concurrent requests by id with the one-shot documents, refuses a bad frame by id', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpc-agent-'));
    dirs.push(dir);
    const { hpcWrapConfig } = writeConfigs(dir);
    const child = spawn(process.execPath, [HPC_WRAP, '--config', hpcWrapConfig, 'agent'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stdin.write(
      [
        { type: 'request', id: 7, op: 'capabilities' },
        { type: 'request', id: 8, op: 'jobstate', stdin: JSON.stringify({ version: 1, jobs: [] }) },
        { type: 'request', id: 9, op: 'rm-rf' },
        { type: 'request', id: 10, op: 'killjob', stdin: '{"version":1,"jobId":null,"sessionId":"../../etc","user":"x"}' },
      ]
        .map((f) => JSON.stringify(f))
        .join('\n') + '\n',
    );
    child.stdin.end();
    const code = await new Promise<number | null>((r) => child.once('close', r));
    expect(code).toBe(0); // stdin ended: the agent ends
    const frames = out.trim().split('\n').map((l) => JSON.parse(l));
    expect(frames[0]).toMatchObject({ type: 'hello', agent: 'hpc-wrap', version: PKG_VERSION, protocol: 1 });
    const byId = new Map(frames.slice(1).map((f) => [f.id, f]));
    expect(byId.get(7)).toMatchObject({ exitCode: 0, output: { scheduler: 'fork', version: PKG_VERSION } });
    expect(byId.get(8)).toMatchObject({ exitCode: 0, output: { scheduler: { name: 'fork', reachable: true }, jobs: {} } });
    expect(byId.get(9)).toMatchObject({ exitCode: 2, output: { error: { code: 'invalid' } } });
    expect(byId.get(10).output.error.message).toMatch(/session id "\.\.\/\.\.\/etc" is not valid/);
    // the same document as the one-shot command prints
    const oneShot = JSON.parse(execFileSync(process.execPath, [HPC_WRAP, '--config', hpcWrapConfig, 'capabilities']).toString());
    expect(byId.get(7).output).toEqual(oneShot);
  });
});

describe('the bridge through the agent', () => {
  let fx: BridgeFixture;
  afterAll(async () => {
    await fx?.close();
  });

  it('runs startjob and jobstate through ONE agent, and a spawn whose agent is killed mid-submit completes with exactly one job', async () => {
    fx = await startBridgeFixture();
    const { cluster } = fx.bridge;
    const agent = cluster.agent!;
    expect(agent).not.toBeNull();
    const api = () => request(fx.bridge.server);

    // a plain spawn: nothing on the hot path starts hpc-wrap
    const a = await api().post('/v1/sessions').set(fx.auth).send(body('alice')).expect(201);
    await waitFor('alice ready', async () => ((await api().get(`/v1/sessions/${a.body.id}`).set(fx.auth)).body.state === 'ready' ? true : undefined));
    expect(cluster.counts.oneShot).toBe(0);
    expect(cluster.counts.agent).toBeGreaterThan(2);
    expect(agent.starts).toBe(1);

    // kill the agent while it is inside the scheduler submit (startjob wrote its attempt
    // file, the fork supervisor is starting, no job id recorded yet)
    const origRequest = agent.request.bind(agent);
    let killedIn: 'submit' | 'before submit' | null = null;
    let firstPid: number | null = null;
    agent.request = (op, args, stdin, timeoutMs) => {
      const p = origRequest(op, args, stdin, timeoutMs);
      if (op === 'startjob' && killedIn === null) {
        killedIn = 'before submit';
        firstPid = agent.pid;
        const { sessionId } = JSON.parse(stdin) as { sessionId: string };
        const runDir = join(fx.workDir, 'users', 'bob', 'sessions', sessionId);
        void (async () => {
          for (let i = 0; i < 1000 && !existsSync(join(runDir, 'submit.attempt')); i++) await new Promise((r) => setTimeout(r, 5));
          if (existsSync(join(runDir, 'submit.attempt')) && !existsSync(join(runDir, 'jobid'))) killedIn = 'submit';
          agent.kill();
        })();
      }
      return p;
    };
    const before = forkJobs(fx.workDir).length;
    const b = await api().post('/v1/sessions').set(fx.auth).send(body('bob')).expect(201);
    const ready = await waitFor('bob ready', async () => {
      const r = await api().get(`/v1/sessions/${b.body.id}`).set(fx.auth);
      if (r.body.state === 'failed') throw new Error(r.body.message);
      return r.body.state === 'ready' ? r.body : undefined;
    });
    expect(killedIn).toBe('submit');
    expect(forkJobs(fx.workDir).length - before).toBe(1); // exactly one job for bob
    const jobs = await api().get('/v1/jobs?user=bob').set(fx.auth).expect(200);
    expect(jobs.body.jobs.map((j: { jobId: string }) => j.jobId)).toEqual([ready.jobId]);
    expect(fx.logs()).toMatch(/hpc-wrap agent ended/);
    // (the repeated startjob adopted the interrupted attempt's job by its marker when the
    // kill came after the fork spawn, or submitted the only job when it came before)
    // restarted with backoff: a new agent (another process) serves the next calls
    await waitFor('agent restarted', () => (agent.isUp && agent.pid !== firstPid ? true : undefined));
    expect(agent.starts).toBe(2);
    const calls = cluster.counts.agent;
    await cluster.capabilities();
    expect(cluster.counts.agent).toBe(calls + 1);
    for (const id of [a.body.id, b.body.id]) await api().delete(`/v1/sessions/${id}`).set(fx.auth).expect(202);
  }, 90_000);
});

describe('agent start-up', () => {
  it('refuses an agent of another version with a clear message, and the commands still run one-shot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpc-agent-'));
    dirs.push(dir);
    const { hpcWrapConfig } = writeConfigs(dir);
    const { log, text } = logSink();
    const transport = new LocalTransport({ runAs: null });
    const hpcWrap = [process.execPath, HPC_WRAP, '--config', hpcWrapConfig];
    const agent = new AgentClient(transport, { hpcWrap, version: '9.9.9', log, startTimeoutMs: 20_000 });
    const client = new HpcWrapClient(transport, hpcWrap, 30_000, agent);
    const caps = await client.capabilities();
    expect(caps.scheduler).toBe('fork');
    expect(client.counts).toEqual({ agent: 0, oneShot: 1 });
    expect(agent.refusal).toMatch(new RegExp(`version ${PKG_VERSION.replace(/\./g, '\\.')}, this bridge is 9\\.9\\.9: the agent is not used.*Install the matching hpc-wrap`));
    expect(text()).toMatch(/this bridge is 9\.9\.9/);
    await client.capabilities();
    expect(agent.starts).toBe(1); // refused once, not restarted in a loop
    await agent.close();
  });

  it('falls back to one-shot commands when the agent cannot start, and keeps retrying with backoff', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpc-agent-'));
    dirs.push(dir);
    const { hpcWrapConfig } = writeConfigs(dir);
    const { log, text } = logSink();
    const transport = new LocalTransport({ runAs: null });
    // an hpc-wrap without the agent command (an older install): `agent` is a usage error
    const hpcWrap = [process.execPath, HPC_WRAP, '--config', hpcWrapConfig];
    const agent = new AgentClient(transport, { hpcWrap: [...hpcWrap, 'no-such-command'], version: 'dev', log, startTimeoutMs: 20_000, backoffMs: 50, maxBackoffMs: 100 });
    const client = new HpcWrapClient(transport, hpcWrap, 30_000, agent);
    expect((await client.partitions()).partitions).toBeNull();
    expect(client.counts).toEqual({ agent: 0, oneShot: 1 });
    expect(text()).toMatch(/the hpc-wrap agent did not start \(.*exited with status 2/);
    await waitFor('a second start', () => (agent.starts >= 2 ? true : undefined));
    await agent.close();
  });

  it.runIf(process.getuid?.() === 0)('identity sudo: killjob runs one-shot AS the user through sudo, status calls go through the agent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpc-agent-'));
    dirs.push(dir);
    const { hpcWrapConfig } = writeConfigs(dir);
    const { log } = logSink();
    const transport = new LocalTransport({ runAs: null, identity: 'sudo', sudoCommand: ['sudo', '-n', '-u'] });
    const hpcWrap = [process.execPath, HPC_WRAP, '--config', hpcWrapConfig];
    const agent = new AgentClient(transport, { hpcWrap, version: 'dev', log, startTimeoutMs: 20_000 });
    const client = new HpcWrapClient(transport, hpcWrap, 30_000, agent);
    await client.jobState([]);
    expect(client.counts).toEqual({ agent: 1, oneShot: 0 });
    await client.killJob({ jobId: null, sessionId: `s-${'a'.repeat(26)}`, user: 'root' });
    expect(client.counts).toEqual({ agent: 1, oneShot: 1 });
    await agent.close();
  });
});

describe('readiness pushed from the run dir', () => {
  let fx: BridgeFixture;
  afterAll(async () => {
    await fx?.close();
  });

  it('with 60 s status intervals a session still becomes ready (and a dying one fails) long before the next tick', async () => {
    fx = await startBridgeFixture({ status: { intervalSeconds: 60, startingIntervalSeconds: 60 } });
    const api = () => request(fx.bridge.server);
    const created = Date.now();
    const a = await api().post('/v1/sessions').set(fx.auth).send(body('dora')).expect(201);
    const c = await api()
      .post('/v1/sessions')
      .set(fx.auth)
      .send(body('carl', { command: [process.execPath, STAND_IN_SERVER, '--exit-code', '3'] }))
      .expect(201);
    // the ticks are 60 s apart: only pushed events can bring these states within the wait below
    const ready = await waitFor('dora ready', async () => {
      const r = await api().get(`/v1/sessions/${a.body.id}`).set(fx.auth);
      return r.body.state === 'ready' ? r.body : undefined;
    }, 40_000);
    const failed = await waitFor('carl failed', async () => {
      const r = await api().get(`/v1/sessions/${c.body.id}`).set(fx.auth);
      return r.body.state === 'failed' ? r.body : undefined;
    }, 40_000);
    expect(Date.now() - created).toBeLessThan(60_000); // before the first 60 s tick could have run
    expect(ready.state).toBe('ready');
    expect(failed.message).toMatch(/stopped while it was starting/);
    expect(fx.bridge.pushed.pushes).toBeGreaterThanOrEqual(3); // started, listening, exited
    await api().delete(`/v1/sessions/${a.body.id}`).set(fx.auth).expect(202);
  }, 90_000);
});
