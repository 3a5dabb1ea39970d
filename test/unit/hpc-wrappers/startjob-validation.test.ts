// startjob refuses hostile or malformed requests with exit 2 before touching the disk.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, listFiles, makeWorkspace, startRequest, tempDir, type Workspace } from './support/hpc-wrap-bundle.js';

let bundle: string;
let ws: Workspace;

beforeAll(async () => {
  bundle = await buildBundle(tempDir());
  ws = makeWorkspace(bundle);
});
afterAll(() => ws.cleanup());

const SECRET = 'do-not-leak-7f3a9c';

async function expectInvalid(input: string | Buffer) {
  const r = await ws.wrap.run(['startjob'], { input });
  expect(r.code, r.stderr).toBe(2);
  expect(r.json).toMatchObject({ error: { code: 'invalid' } });
  expect(r.stderr).toMatch(/^hpc-wrap startjob: /);
  // Nothing was created under workDir (the log lives outside it in this workspace).
  expect(existsSync(ws.workDir) ? listFiles(ws.workDir) : []).toEqual([]);
  expect(r.stdout + r.stderr).not.toContain(SECRET);
  return (r.json as { error: { message: string } }).error.message;
}

const env = { JUPYTERHUB_API_TOKEN: SECRET };

describe('startjob input validation', () => {
  it.each([
    ['path traversal', '../x'],
    ['shell metacharacters', 'a;rm -rf /'],
    ['command substitution', '$(id)'],
    ['empty', ''],
    ['a slash', 'a/b'],
    ['a leading dot', '.hidden'],
    ['10 kB', 'a'.repeat(10_000)],
  ])('refuses a user name with %s', async (_what, user) => {
    const message = await expectInvalid(JSON.stringify(startRequest({ user, env })));
    expect(message).toMatch(/user/);
  });

  it('refuses a bad session id, server name and job command', async () => {
    expect(await expectInvalid(JSON.stringify(startRequest({ sessionId: '../../etc', env })))).toMatch(/sessionId/);
    expect(await expectInvalid(JSON.stringify(startRequest({ serverName: 'x/../y', env })))).toMatch(/serverName/);
    expect(await expectInvalid(JSON.stringify(startRequest({ command: [], env })))).toMatch(/command/);
  });

  it('refuses resource values that would reach the scheduler argv', async () => {
    expect(await expectInvalid(JSON.stringify(startRequest({ resources: { partition: 'debug --uid=0' }, env })))).toMatch(/resources\.partition/);
    expect(await expectInvalid(JSON.stringify(startRequest({ resources: { extraArgs: ['-o/etc/passwd'] }, env })))).toMatch(/extraArgs/);
  });

  it('refuses both resources and script, unknown keys, a wrong version and reserved env names', async () => {
    expect(await expectInvalid(JSON.stringify(startRequest({ script: '#!/bin/sh\ntrue\n', env })))).toMatch(/not both/);
    expect(await expectInvalid(JSON.stringify({ ...startRequest({ env }), extra: 1 }))).toMatch(/unknown key/);
    expect(await expectInvalid(JSON.stringify(startRequest({ version: 2, env })))).toMatch(/version/);
    expect(await expectInvalid(JSON.stringify(startRequest({ env: { HPC_WRAP_RUN_DIR: '/tmp' } })))).toMatch(/HPC_WRAP_/);
  });

  it('refuses broken JSON without quoting it back (it may hold secrets)', async () => {
    const message = await expectInvalid(`{"env":{"JUPYTERHUB_API_TOKEN":"${SECRET}"} oops`);
    expect(message).toMatch(/not a valid JSON document/);
  });

  it('refuses empty stdin and more than 1 MiB', async () => {
    await expectInvalid('');
    const big = JSON.stringify(startRequest({ env: { ...env, BIG: 'x'.repeat(1024 * 1024) } }));
    expect(await expectInvalid(big)).toMatch(/larger than 1048576 bytes/);
  });

  it('logs the refusal without the secret', () => {
    const log = readFileSync(ws.logFile, 'utf8');
    expect(log).toContain('"event":"startjob.failed"');
    expect(log).toContain('"code":"invalid"');
    expect(log).not.toContain(SECRET);
  });
});
