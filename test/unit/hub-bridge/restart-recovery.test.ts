// The bridge as a real process, killed with SIGKILL mid-spawn and started again.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, STAND_IN_SERVER, waitFor, writeConfigs } from '../../support/bridge-fixture.js';
import { freePort } from '../../system/harness/ports.js';

const children: ChildProcess[] = [];
const call = async (url: string, init?: RequestInit): Promise<any> => (await fetch(url, init)).json();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

function startBridgeProcess(config: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(REPO, 'dist/hpc-bridge.mjs'), '--config', config, 'serve'], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d) => {
      err += String(d);
      if (err.includes('listening on')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`bridge exited (${code}): ${err}`)));
  });
}

describe('restart recovery', () => {
  it('a bridge killed with SIGKILL mid-spawn resumes: the session becomes ready, no duplicate job, same session for the same key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpc-bridge-restart-'));
    const port = await freePort();
    const { bridgeConfig, workDir } = writeConfigs(dir, { listen: { host: '127.0.0.1', port } });
    const base = `http://127.0.0.1:${port}`;

    let bridge = await startBridgeProcess(bridgeConfig);
    const token = readFileSync(join(dir, 'token'), 'utf8').trim();
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Idempotency-Key': 'spawn-42' };
    const payload = JSON.stringify({
      user: 'alice',
      env: { JUPYTERHUB_SERVICE_PREFIX: '/user/alice/', JUPYTERHUB_API_TOKEN: 'secret-for-alice' },
      command: [process.execPath, STAND_IN_SERVER, '--delay-ms', '1500'],
    });
    const first = await call(`${base}/v1/sessions`, { method: 'POST', headers, body: payload });
    expect(first.state).toBe('submitting');

    // Kill it while the job is submitted but the server is not yet ready.
    await waitFor('job submitted', async () => {
      const s = await call(`${base}/v1/sessions/${first.id}`, { headers });
      return s.jobId ? s : undefined;
    });
    bridge.kill('SIGKILL');
    await new Promise((r) => bridge.once('exit', r));

    bridge = await startBridgeProcess(bridgeConfig);
    const ready = await waitFor('ready after restart', async () => {
      const s = await call(`${base}/v1/sessions/${first.id}`, { headers });
      if (s.state === 'failed') throw new Error(s.message);
      return s.state === 'ready' ? s : undefined;
    }, 30_000);
    expect((await fetch(`${ready.url}/user/alice/api`)).status).toBe(200);

    const again = await fetch(`${base}/v1/sessions`, { method: 'POST', headers, body: payload });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { id: string }).id).toBe(first.id);

    const jobs = readdirSync(join(workDir, 'jobs'));
    expect(jobs).toHaveLength(1);

    await fetch(`${base}/v1/sessions/${first.id}`, { method: 'DELETE', headers });
    await waitFor('stopped', async () => ((await call(`${base}/v1/sessions/${first.id}`, { headers })).state === 'stopped' ? true : undefined));
    bridge.kill('SIGTERM');
  });

  it('a bridge killed before the submit finished submits exactly once after restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpc-bridge-restart-'));
    const port = await freePort();
    const { bridgeConfig, workDir } = writeConfigs(dir, { listen: { host: '127.0.0.1', port } });
    const base = `http://127.0.0.1:${port}`;
    let bridge = await startBridgeProcess(bridgeConfig);
    const token = readFileSync(join(dir, 'token'), 'utf8').trim();
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    const created = await call(`${base}/v1/sessions`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ user: 'bob', env: { JUPYTERHUB_SERVICE_PREFIX: '/user/bob/' }, command: [process.execPath, STAND_IN_SERVER] }),
      });
    bridge.kill('SIGKILL'); // right after the row was committed; startjob may or may not have run
    await new Promise((r) => bridge.once('exit', r));
    bridge = await startBridgeProcess(bridgeConfig);
    await waitFor('ready after restart', async () => {
      const s = await call(`${base}/v1/sessions/${created.id}`, { headers });
      if (s.state === 'failed') throw new Error(s.message);
      return s.state === 'ready' ? s : undefined;
    }, 30_000);
    expect(readdirSync(join(workDir, 'jobs'))).toHaveLength(1);
    await fetch(`${base}/v1/sessions/${created.id}`, { method: 'DELETE', headers });
    await waitFor('stopped', async () => ((await call(`${base}/v1/sessions/${created.id}`, { headers })).state === 'stopped' ? true : undefined));
    bridge.kill('SIGTERM');
  });
});
