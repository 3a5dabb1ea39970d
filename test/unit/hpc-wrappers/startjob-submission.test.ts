// startjob on disk: maintenance gate, one submission per session under concurrency,
// owner-only modes, and a rendered batch script with no user-controlled text.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, makeWorkspace, startRequest, tempDir, waitFor, type Workspace } from './support/hpc-wrap-bundle.js';

let bundle: string;
const spaces: Workspace[] = [];

function workspace(config: Record<string, unknown> = {}): Workspace {
  const ws = makeWorkspace(bundle, config);
  spaces.push(ws);
  return ws;
}

/** A command that runs until killed, without listening anywhere. */
const IDLE = [process.execPath, '-e', 'setInterval(() => {}, 1000)'];

beforeAll(async () => {
  bundle = await buildBundle(tempDir());
});
afterAll(async () => {
  for (const ws of spaces) {
    for (const f of readdirSafe(join(ws.workDir, 'fork')).filter((n) => n.startsWith('fork-'))) await ws.wrap.run(['killjob', f]);
    ws.cleanup();
  }
});

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

const mode = (p: string) => statSync(p).mode & 0o777;

describe('maintenance', () => {
  it('refuses a spawn with exit 3 and the configured message, creating nothing', async () => {
    const ws = workspace({ maintenance: { enabled: true, message: 'Back at 14:00, sorry!', allowUsers: ['admin'] } });
    const r = await ws.wrap.run(['startjob'], { input: JSON.stringify(startRequest({ command: IDLE })) });
    expect(r.code).toBe(3);
    expect(r.json).toEqual({ error: { code: 'maintenance', message: 'Back at 14:00, sorry!' } });
    expect(r.stderr).toContain('Back at 14:00, sorry!');
    expect(readdirSafe(ws.workDir)).toEqual([]);
  });

  it('lets users on the allow-list spawn', async () => {
    const ws = workspace({ maintenance: { enabled: true, allowUsers: ['admin'] } });
    const r = await ws.wrap.run(['startjob'], { input: JSON.stringify(startRequest({ user: 'admin', command: IDLE })) });
    expect(r.code, r.stdout).toBe(0);
    expect(r.json).toMatchObject({ jobId: expect.stringMatching(/^fork-/) });
  });
});

describe('idempotent startjob', () => {
  it('submits once for concurrent calls with the same sessionId, and again returns that id', async () => {
    const ws = workspace();
    const input = JSON.stringify(startRequest({ command: IDLE }));
    const results = await Promise.all([1, 2, 3, 4].map(() => ws.wrap.run(['startjob'], { input })));
    for (const r of results) expect(r.code, r.stdout + r.stderr).toBe(0);
    const ids = new Set(results.map((r) => (r.json as { jobId: string }).jobId));
    expect(ids.size).toBe(1);
    // The fork adapter makes one directory per submission.
    expect(readdirSafe(join(ws.workDir, 'fork')).filter((n) => n.startsWith('fork-'))).toHaveLength(1);

    const again = await ws.wrap.run(['startjob'], { input });
    expect(again.json).toEqual(results[0]!.json);
    const log = readFileSync(ws.logFile, 'utf8');
    expect(log.match(/startjob\.submitted/g)).toHaveLength(1);
    expect(log.match(/startjob\.duplicate/g)).toHaveLength(4);
  });
});

describe('files startjob writes', () => {
  it('makes owner-only directories and files with the escaped user name', async () => {
    // A job that never starts the server: the spool stays for inspection (start-env, not the launcher, runs it).
    const ws = workspace({ job: { hpcWrapCommand: [process.execPath, '-e', 'setTimeout(() => {}, 60000)'], launcher: 'node' } });
    const req = startRequest({ user: 'Bob+lab@Ex.org', serverName: 'gpu-1' });
    const r = await ws.wrap.run(['startjob'], { input: JSON.stringify(req) });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const { runDir, jobId } = r.json as { runDir: string; jobId: string };
    const userDir = join(ws.workDir, 'users', '_42ob_2blab_40_45x_2eorg');
    expect(runDir).toBe(join(userDir, 'sessions', req.sessionId as string));

    expect(mode(ws.workDir)).toBe(0o711);
    expect(mode(userDir)).toBe(0o700);
    expect(mode(runDir)).toBe(0o700);
    expect(mode(join(runDir, 'spool'))).toBe(0o700);
    expect(mode(join(runDir, 'spool', 'secrets.json'))).toBe(0o600);
    expect(mode(join(runDir, 'spool', 'job.json'))).toBe(0o600);
    expect(mode(join(runDir, 'job.sh')) & 0o077).toBe(0);
    expect(mode(join(ws.workDir, 'homes', '_42ob_2blab_40_45x_2eorg'))).toBe(0o700);

    expect(JSON.parse(readFileSync(join(runDir, 'spool', 'secrets.json'), 'utf8'))).toEqual({ env: req.env, tunnelPrivateKey: null, webdav: null });
    const job = JSON.parse(readFileSync(join(runDir, 'spool', 'job.json'), 'utf8'));
    expect(job).toMatchObject({ sessionId: req.sessionId, user: 'Bob+lab@Ex.org', serverName: 'gpu-1', command: req.command });
    expect(JSON.stringify(job)).not.toContain('tok-0000');
    expect(readFileSync(join(runDir, 'jobid'), 'utf8').trim()).toBe(jobId);

    // The rendered script: the hpc-wrap command, the config and the run dir — nothing from the request.
    const script = readFileSync(join(runDir, 'job.sh'), 'utf8');
    expect(script).toBe(
      `#!/bin/sh\nexec '${process.execPath}' '-e' 'setTimeout(() => {}, 60000)' '--config' '${ws.configPath}' 'start-env' '--run-dir' '${runDir}'\n`,
    );
    expect(script).not.toContain('Bob');
    expect(script).not.toContain('tiny-server');
  });

  it('runs start-env from the running hpc-wrap file when job.hpcWrapCommand is null', async () => {
    const ws = workspace();
    const r = await ws.wrap.run(['startjob'], { input: JSON.stringify(startRequest({ command: IDLE })) });
    const { runDir } = r.json as { runDir: string };
    const out = await waitFor(async () => {
      const text = readFileSafe(join(runDir, 'output.log'));
      return text.includes('starting') ? text : null;
    }, 'start-env to run');
    expect(out).toContain('preparing the environment');
    expect(readdirSafe(runDir)).not.toContain('job.sh');
  });
});

describe('the job launcher (job.launcher auto)', () => {
  it("a plain job's script starts the server by the Python launcher, with start-env as its fallback; a job with an environment by start-env", async () => {
    const hold = [process.execPath, '-e', 'setTimeout(() => {}, 60000)'];
    const ws = workspace({ job: { hpcWrapCommand: hold }, environments: { lab: { modules: { load: ['python/3.11'] } } } });
    const plain = await ws.wrap.run(['startjob'], { input: JSON.stringify(startRequest({ user: 'Bob+lab@Ex.org' })) });
    const { runDir } = plain.json as { runDir: string };
    const script = readFileSync(join(runDir, 'job.sh'), 'utf8');
    const startEnv = `'${process.execPath}' '-e' 'setTimeout(() => {}, 60000)' '--config' '${ws.configPath}' 'start-env' '--run-dir' '${runDir}'`;
    expect(script.split('\n').slice(0, 5)).toEqual([
      '#!/bin/sh',
      expect.stringMatching(/^# hpc-wrap: /),
      'for py in /usr/bin/python3 python3; do',
      '  command -v "$py" >/dev/null 2>&1 || continue',
      `  exec "$py" -E -s -S - --run-dir '${runDir}' -- ${startEnv} <<'HPC_WRAP_LAUNCHER'`,
    ]);
    expect(script).toContain('\nHPC_WRAP_LAUNCHER\ndone\nexec ' + startEnv + '\n');
    expect(script).not.toContain('Bob');
    expect(script).not.toContain('tiny-server');

    const withEnv = await ws.wrap.run(['startjob'], { input: JSON.stringify(startRequest({ environment: 'lab' })) });
    const other = (withEnv.json as { runDir: string }).runDir;
    expect(readFileSync(join(other, 'job.sh'), 'utf8')).toBe(`#!/bin/sh\nexec ${startEnv.replace(runDir, other)}\n`);
  });
});

function readFileSafe(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}
