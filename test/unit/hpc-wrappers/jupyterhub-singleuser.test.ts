// The real single-user server (Debian's jupyterhub-singleuser: JupyterHub 3.0 +
// notebook 6.4, run by /usr/bin/python3) started by the fork adapter and start-env.
// It takes ip and port from JUPYTERHUB_SERVICE_URL alone (no --ip/--port), and it
// waits for the hub API before listening, so a stand-in hub API answers here.
// Skipped where the package is not installed.
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, makeWorkspace, startRequest, tempDir, waitFor, type Workspace } from './support/hpc-wrap-bundle.js';

const SINGLEUSER = '/usr/bin/jupyterhub-singleuser';
const available = existsSync(SINGLEUSER) && existsSync('/usr/bin/python3');

let ws: Workspace;
let hub: http.Server;
let hubPort = 0;
let jobId: string | null = null;

beforeAll(async () => {
  if (!available) return;
  ws = makeWorkspace(await buildBundle(tempDir()));
  hub = http.createServer((_req, res) => {
    res.setHeader('X-JupyterHub-Version', '3.0.0');
    res.setHeader('content-type', 'application/json');
    res.end('{"version":"3.0.0"}');
  });
  await new Promise<void>((r) => hub.listen(0, '127.0.0.1', r));
  hubPort = (hub.address() as AddressInfo).port;
});
afterAll(async () => {
  if (!available) return;
  if (jobId) await ws.wrap.run(['killjob', jobId]);
  await new Promise((r) => hub.close(r));
  ws.cleanup();
});

describe.skipIf(!available)('jupyterhub-singleuser under start-env', () => {
  it('listens on the port start-env chose and serves its API under the prefix', async () => {
    const asRoot = process.getuid?.() === 0;
    const req = startRequest({
      user: 'alice',
      env: {
        JUPYTERHUB_API_TOKEN: 'tok-singleuser-test',
        JUPYTERHUB_CLIENT_ID: 'jupyterhub-user-alice',
        JUPYTERHUB_API_URL: `http://127.0.0.1:${hubPort}/hub/api`,
        JUPYTERHUB_BASE_URL: '/',
        JUPYTERHUB_SERVICE_PREFIX: '/user/alice/',
        JUPYTERHUB_OAUTH_CALLBACK_URL: '/user/alice/oauth_callback',
        JUPYTERHUB_USER: 'alice',
        // What the hub itself sends; start-env must replace it with the node's port.
        JUPYTERHUB_SERVICE_URL: 'http://0.0.0.0:8888/user/alice/',
      },
      command: [SINGLEUSER, ...(asRoot ? ['--allow-root'] : [])],
    });
    const r = await ws.wrap.run(['startjob'], { input: JSON.stringify(req) });
    expect(r.code, r.stdout).toBe(0);
    jobId = (r.json as { jobId: string }).jobId;
    const job = await waitFor(
      async () => {
        const s = await ws.wrap.run(['jobstate', jobId!]);
        const j = (s.json as { jobs: Record<string, { state: string; server: { phase: string; host: string; port: number } | null; outputTail: string | null }> }).jobs[jobId!]!;
        if (j.state === 'failed' || j.state === 'done') throw new Error(`singleuser ended: ${j.outputTail}`);
        return j.server?.phase === 'listening' ? j : null;
      },
      'jupyterhub-singleuser to listen',
      30_000,
    );
    expect(job.server!.port).not.toBe(8888);
    const res = await fetch(`http://${job.server!.host}:${job.server!.port}/user/alice/api`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { version: string }).version).toMatch(/^6\./);
  }, 45_000);
});
