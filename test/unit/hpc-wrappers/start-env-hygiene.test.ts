// What is left of the start-up secrets once the server runs: the spool (secrets.json,
// job.json, the spool dir) and the batch script are gone, and the server's environment
// has the hub's token but no start-up secret (the WebDAV password), whoever put it there.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, makeWorkspace, tempDir, waitFor, type Workspace } from './support/hpc-wrap-bundle.js';
import { HUB_TOKEN, runStartEnv, writeRunDir } from './support/software-env.js';

const PASSWORD = 'webdav-pw-7c1e0b55';
let bundle: string;
let ws: Workspace;

beforeAll(async () => {
  bundle = await buildBundle(tempDir());
  ws = makeWorkspace(bundle);
});
afterAll(() => ws.cleanup());

describe('start-env hygiene', () => {
  it('leaves no spool or batch script, and the server env holds the token but no start-up secret', async () => {
    const server = [process.execPath, '-e', "console.log('PID ' + process.pid); process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1000);"];
    const hubEnv = { JUPYTERHUB_API_TOKEN: HUB_TOKEN, WEBDAV_PASSWORD: PASSWORD, SHARE_URL: `https://alice:${PASSWORD}@dav.example.org/`, LANG: 'C.UTF-8' };
    const { runDir } = writeRunDir(ws, server, { hubEnv, webdavCredentials: { username: 'alice', password: PASSWORD } });
    const run = runStartEnv(bundle, ws, runDir);
    const pid = Number((await waitFor(async () => /PID (\d+)/.exec(run.output()), 'the server'))[1]);

    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    expect(environ).toContain(`JUPYTERHUB_API_TOKEN=${HUB_TOKEN}`);
    expect(environ).toContain('LANG=C.UTF-8');
    expect(environ.join('\n')).not.toContain(PASSWORD);
    expect(run.output()).toContain("removed WEBDAV_PASSWORD, SHARE_URL from the server's environment (they held a start-up secret)");
    expect(readdirSync(runDir).sort()).toEqual(['status.json']);

    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(readdirSync(runDir).sort()).toEqual(['exit.json', 'status.json']);
    expect(run.output()).not.toContain(PASSWORD);
    expect(readFileSync(ws.logFile, 'utf8')).not.toContain(PASSWORD);
  });
});
