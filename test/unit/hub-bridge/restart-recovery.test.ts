// The bridge as a real process, killed with SIGKILL mid-spawn and started again.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { STAND_IN_SERVER, waitFor, writeConfigs } from '../../support/bridge-fixture.js';
import { stopForkJobs } from '../../support/fork-jobs.js';
import { startBridgeProcess, type BridgeProcess } from '../../system/bridge-process.js';
import { freePort } from '../../system/harness/ports.js';

const started: BridgeProcess[] = [];
const homes: { dir: string; workDir: string }[] = [];
afterAll(async () => {
  for (const b of started) await b.kill('SIGKILL');
  // the fork jobs of a test that failed half-way, then the dirs
  for (const h of homes) {
    await stopForkJobs(h.workDir);
    rmSync(h.dir, { recursive: true, force: true });
  }
});

/** A bridge on its own temp dir and port; start() may be called again after a kill. */
async function bridgeHome() {
  const dir = mkdtempSync(join(tmpdir(), 'hpc-bridge-restart-'));
  const port = await freePort();
  const { bridgeConfig, workDir } = writeConfigs(dir, { listen: { host: '127.0.0.1', port } });
  homes.push({ dir, workDir });
  const start = async () => {
    const b = await startBridgeProcess({ config: bridgeConfig, port, tokenFile: join(dir, 'token') });
    started.push(b);
    return b;
  };
  return { workDir, start };
}

async function until(bridge: BridgeProcess, id: string, state: string) {
  return waitFor(
    state,
    async () => {
      const s = (await bridge.api('GET', `/v1/sessions/${id}`)).json;
      if (s.state === 'failed' && state !== 'failed') throw new Error(s.message);
      return s.state === state ? s : undefined;
    },
    30_000,
  );
}

describe('restart recovery', () => {
  it('a bridge killed with SIGKILL mid-spawn resumes: the session becomes ready, no duplicate job, same session for the same key', async () => {
    const home = await bridgeHome();
    let bridge = await home.start();
    const key = { 'Idempotency-Key': 'spawn-42' };
    const payload = {
      user: 'alice',
      env: { JUPYTERHUB_SERVICE_PREFIX: '/user/alice/', JUPYTERHUB_API_TOKEN: 'secret-for-alice' },
      command: [process.execPath, STAND_IN_SERVER, '--delay-ms', '1500'],
    };
    const first = (await bridge.api('POST', '/v1/sessions', payload, key)).json;
    expect(first.state).toBe('submitting');

    // Kill it while the job is submitted but the server is not yet ready.
    await waitFor('job submitted', async () => ((await bridge.api('GET', `/v1/sessions/${first.id}`)).json.jobId ? true : undefined));
    await bridge.kill('SIGKILL');

    bridge = await home.start();
    const ready = await until(bridge, first.id, 'ready');
    expect((await fetch(`${ready.url}/user/alice/api`)).status).toBe(200);

    const again = await bridge.api('POST', '/v1/sessions', payload, key);
    expect(again.status).toBe(200);
    expect(again.json.id).toBe(first.id);

    expect(forkJobs(home.workDir)).toHaveLength(1);

    await bridge.api('DELETE', `/v1/sessions/${first.id}`);
    await until(bridge, first.id, 'stopped');
    await bridge.kill('SIGTERM');
  });

  it('a bridge killed before the submit finished never submits twice: it adopts the job, or fails plainly when none was made', async () => {
    // The secrets (the hub token) are never stored: a restarted bridge can only adopt a job
    // an earlier attempt submitted, never submit one without them.
    const home = await bridgeHome();
    let bridge = await home.start();
    const payload = { user: 'bob', env: { JUPYTERHUB_SERVICE_PREFIX: '/user/bob/', JUPYTERHUB_API_TOKEN: 'secret-for-bob' }, command: [process.execPath, STAND_IN_SERVER] };
    const created = (await bridge.api('POST', '/v1/sessions', payload)).json;
    await bridge.kill('SIGKILL'); // right after the row was committed; startjob may or may not have run
    bridge = await home.start();
    const end = await waitFor(
      'ready or failed',
      async () => {
        const s = (await bridge.api('GET', `/v1/sessions/${created.id}`)).json;
        return s.state === 'ready' || s.state === 'failed' ? s : undefined;
      },
      30_000,
    );
    const jobs = forkJobs(home.workDir);
    if (end.state === 'ready') expect(jobs).toHaveLength(1);
    else {
      expect(end.message).toMatch(/restarted before your job was submitted; nothing was submitted\. Please start your server again/);
      expect(jobs).toHaveLength(0);
    }
    if (end.state === 'ready') {
      await bridge.api('DELETE', `/v1/sessions/${created.id}`);
      await until(bridge, created.id, 'stopped');
    }
    await bridge.kill('SIGTERM');
  });
});

function forkJobs(workDir: string): string[] {
  try {
    return readdirSync(join(workDir, 'fork')).filter((n) => n.startsWith('fork-'));
  } catch {
    return [];
  }
}
