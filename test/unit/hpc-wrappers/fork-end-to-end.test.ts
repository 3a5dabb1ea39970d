// The fork adapter end to end through the bundle: startjob → start-env in a detached
// job → the server listens where JUPYTERHUB_SERVICE_URL says → jobstate → killjob.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shQuote } from '../../../hpc-wrappers/startjob/batch-script.js';
import {
  buildBundle,
  listFiles,
  makeWorkspace,
  startRequest,
  tempDir,
  waitFor,
  type Workspace,
} from './support/hpc-wrap-bundle.js';

const SECRET = 'hub-token-5c1d7e0b9a';

interface JobReport {
  state: string;
  node: string | null;
  exitCode: number | null;
  server: { phase: string; host: string | null; port: number | null; message: string | null } | null;
  outputTail: string | null;
}
interface StateDoc {
  scheduler: { name: string; reachable: boolean; error: string | null };
  jobs: Record<string, JobReport>;
}

let bundle: string;
let ws: Workspace;
const started: string[] = [];

beforeAll(async () => {
  bundle = await buildBundle(tempDir());
  ws = makeWorkspace(bundle);
});
afterAll(async () => {
  for (const id of started) await ws.wrap.run(['killjob', id]);
  ws.cleanup();
});

async function jobstate(...ids: string[]): Promise<StateDoc> {
  const r = await ws.wrap.run(['jobstate', ...ids]);
  expect(r.code, r.stderr).toBe(0);
  return r.json as StateDoc;
}

async function startjob(req: Record<string, unknown>) {
  const r = await ws.wrap.run(['startjob'], { input: JSON.stringify(req) });
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const out = r.json as { jobId: string; sessionId: string; runDir: string };
  started.push(out.jobId);
  return out;
}

describe('fork adapter, end to end', () => {
  it('runs the server, reports it listening, serves HTTP, and cancels it', async () => {
    const req = startRequest({ user: 'Zoë.B@uni', env: { JUPYTERHUB_API_TOKEN: SECRET, JUPYTERHUB_SERVICE_PREFIX: '/user/zoe/' } });
    const { jobId, sessionId, runDir } = await startjob(req);
    expect(jobId).toMatch(/^fork-\d+$/);
    expect(sessionId).toBe(req.sessionId);
    expect(runDir).toBe(join(ws.workDir, 'users', '_5ao_c3_ab_2e_42_40uni', 'sessions', sessionId));

    const running = await waitFor(async () => {
      const doc = await jobstate(jobId);
      return doc.jobs[jobId]?.server?.phase === 'listening' ? doc : null;
    }, 'the server to listen');
    expect(running.scheduler).toEqual({ name: 'fork', reachable: true, error: null, batchSystem: false });
    const job = running.jobs[jobId]!;
    expect(job.state).toBe('running');
    expect(job.server).toMatchObject({ host: '127.0.0.1', message: null });
    expect(job.server!.port).toBeGreaterThanOrEqual(49152);
    expect(job.outputTail).toBeNull();

    // The server answers at host:port under the hub's prefix, with the environment start-env built.
    const res = await fetch(`http://${job.server!.host}:${job.server!.port}/user/zoe/api`);
    const seen = (await res.json()) as Record<string, unknown>;
    const home = join(ws.workDir, 'homes', '_5ao_c3_ab_2e_42_40uni');
    expect(seen).toMatchObject({ path: '/user/zoe/api', home, cwd: home, prefix: '/user/zoe/', hasToken: true, hpcWrapVars: [] });

    // start-env consumed the spool: secrets and the job script are gone.
    expect(existsSync(join(runDir, 'spool', 'secrets.json'))).toBe(false);
    expect(existsSync(join(runDir, 'spool', 'job.json'))).toBe(false);
    expect(existsSync(join(runDir, 'job.sh'))).toBe(false);
    expect(existsSync(join(runDir, 'spool'))).toBe(false); // the emptied spool dir goes too
    expect(statSync(home).mode & 0o777).toBe(0o700);

    const kill = await ws.wrap.run(['killjob', jobId]);
    expect(kill.code, kill.stderr).toBe(0);
    expect(kill.json).toEqual({ jobId, cancelled: true });

    const after = await waitFor(async () => {
      const doc = await jobstate(jobId);
      return ['cancelled', 'done'].includes(doc.jobs[jobId]!.state) ? doc : null;
    }, 'the job to end');
    const ended = after.jobs[jobId]!;
    expect(ended.state).toBe('cancelled');
    expect(ended.server?.phase).toBe('exited');
    expect(ended.outputTail).toContain('tiny-server got SIGTERM');
    await expect(fetch(`http://127.0.0.1:${job.server!.port}/`)).rejects.toThrow();

    // Killing again is not an error.
    expect((await ws.wrap.run(['killjob', jobId])).code).toBe(0);
  });

  it('reports a command that exits 3 at once as failed, with its stderr in outputTail', async () => {
    const req = startRequest({ command: [process.execPath, '-e', 'console.error("boom: no notebook here"); process.exit(3)'] });
    const { jobId } = await startjob(req);
    const doc = await waitFor(async () => {
      const d = await jobstate(jobId);
      return d.jobs[jobId]!.state === 'failed' ? d : null;
    }, 'the job to fail');
    const job = doc.jobs[jobId]!;
    expect(job.exitCode).toBe(3);
    expect(job.server).toMatchObject({ phase: 'exited', message: 'the server exited with status 3' });
    expect(job.outputTail).toContain('boom: no notebook here');
  });

  it('runs a ready batch script that calls start-env with its own command', async () => {
    const script = [
      '#!/bin/sh',
      `exec '${process.execPath}' '${bundle}' start-env -- '${process.execPath}' -e 'console.log("from the script:", process.env.HPC_WRAP_RUN_DIR === undefined, Boolean(process.env.JUPYTERHUB_API_TOKEN))'`,
      '',
    ].join('\n');
    const { jobId, runDir } = await startjob(startRequest({ resources: null, script, env: { JUPYTERHUB_API_TOKEN: SECRET } }));
    const doc = await waitFor(async () => {
      const d = await jobstate(jobId);
      return d.jobs[jobId]!.state === 'done' ? d : null;
    }, 'the script job to finish');
    // The script found its run dir through HPC_WRAP_RUN_DIR / HPC_WRAP_CONFIG; the server saw neither.
    expect(doc.jobs[jobId]!.outputTail).toContain('from the script: true true');
    expect(existsSync(join(runDir, 'spool', 'secrets.json'))).toBe(false);
  });

  it('kills a job that ignores SIGTERM with SIGKILL after the grace period', async () => {
    const stubborn = [process.execPath, '-e', "process.on('SIGTERM', () => console.log('ignoring SIGTERM')); setInterval(() => {}, 1000)"];
    // A ready script whose shell and server both ignore SIGTERM.
    const script = `#!/bin/sh\ntrap '' TERM\n${[process.execPath, bundle, 'start-env', '--', ...stubborn].map(shQuote).join(' ')}\n`;
    const { jobId, runDir } = await startjob(startRequest({ resources: null, script }));
    await waitFor(async () => (await jobstate(jobId)).jobs[jobId]!.server?.phase === 'starting' || null, 'the server to start');
    const started = Date.now();
    const kill = await ws.wrap.run(['killjob', jobId]);
    expect(kill.code).toBe(0);
    expect(Date.now() - started).toBeGreaterThan(4000);
    const doc = await jobstate(jobId);
    expect(doc.jobs[jobId]!.state).toBe('cancelled');
    expect(readFileSync(join(runDir, 'output.log'), 'utf8')).toContain('ignoring SIGTERM');
  });

  it('keeps jobstate answering for ids it never saw', async () => {
    const doc = await jobstate('fork-999999', '123');
    expect(doc.jobs['fork-999999']).toMatchObject({ state: 'done', exitCode: null, server: null });
    const bad = await ws.wrap.run(['jobstate', 'a;b c']);
    expect(bad.code).toBe(2);
    expect(bad.json).toMatchObject({ error: { code: 'invalid' } });
  });

  it('never leaves the secret in any file under workDir nor in the log', () => {
    for (const file of listFiles(ws.workDir)) {
      expect(readFileSync(file, 'utf8'), file).not.toContain(SECRET);
    }
    const log = readFileSync(ws.logFile, 'utf8');
    expect(log).toContain('startjob.submitted');
    expect(log).toContain('killjob.cancelled');
    expect(log).not.toContain(SECRET);
  });
});
