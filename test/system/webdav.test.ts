// The WebDAV step against a REAL WebDAV server (`rclone serve webdav` on 127.0.0.1 with a
// user and password, given to rclone in its environment, never in argv) and the REAL
// davfs2 (`mount -t davfs`). Needs root, /dev/fuse, rclone and davfs2:
//   apt-get install -y rclone davfs2
//   npx vitest run --project system test/system/webdav.test.ts
// This sandbox's FUSE cannot list directories (EINVAL), so the tests read and write files.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, makeWorkspace, tempDir, type Workspace } from '../unit/hpc-wrappers/support/hpc-wrap-bundle.js';
import { HUB_TOKEN, runStartEnv, statusOf, writeRunDir } from '../unit/hpc-wrappers/support/software-env.js';
import { freePort } from './harness/ports.js';
import { isAlive, spawnDaemon, terminate, waitFor } from './harness/proc.js';

const canRun =
  process.getuid?.() === 0 && existsSync('/dev/fuse') && ['/usr/sbin/mount.davfs', '/sbin/mount.davfs'].some(existsSync) && existsSync('/usr/bin/rclone');
if (!canRun) console.warn('webdav system tests skipped: they need root, /dev/fuse, davfs2 and rclone (apt-get install -y davfs2 rclone)');

const USER = 'alice dav';
// Blanks, quotes, # and a backslash: all need escaping in davfs2's secrets file.
const PASSWORD = 'S3cr3t "pw" #1 \\ $HOME end';
let bundle: string;
let ws: Workspace;
let backing: string;
let tmp: string;
let port: number;
let rclonePid = 0;
const home = () => join(ws.workDir, 'homes', 'alice');
const mountDir = () => join(home(), 'WebDAV');

/** Pids whose command line or environment mentions `text` (rclone's own environment excluded: that is where the test gave it the password). */
function processesHolding(text: string, where: 'cmdline' | 'environ'): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === rclonePid) continue;
    try {
      if (readFileSync(`/proc/${name}/${where}`).includes(text)) found.push(Number(name));
    } catch {
      /* gone or not ours to read */
    }
  }
  return found;
}

/** Files below `dir` whose content contains `text` (the mount point itself is skipped). */
function filesHolding(dir: string, text: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (p === mountDir() || p === backing) continue;
    const st = statSync(p);
    if (st.isDirectory()) out.push(...filesHolding(p, text));
    else if (st.isFile() && readFileSync(p).includes(text)) out.push(p);
  }
  return out;
}

const mounted = (dir: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir);
const davfsDaemonsFor = (dir: string) => processesHolding(dir, 'cmdline').filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('mount.davfs'));

function webdavConfig(extra: Record<string, unknown> = {}) {
  return {
    enabled: true,
    url: `http://127.0.0.1:${port}/`,
    mountDir: '{home}/WebDAV',
    containerPath: '/home/jovyan/WebDAV',
    davfsConfig: { delay_upload: 0, use_locks: 0 },
    timeoutSeconds: 15,
    ...extra,
  };
}

/** A notebook stand-in: writes into the share, reads a file the server side put there, then idles. */
const NOTEBOOK = [
  process.execPath,
  '-e',
  [
    "const fs = require('fs'), path = require('path');",
    "const dir = path.join(process.env.HOME, 'WebDAV');",
    "fs.writeFileSync(path.join(dir, 'from-notebook.txt'), 'written by the notebook\\n');",
    "console.log('SEED ' + JSON.stringify(fs.readFileSync(path.join(dir, 'seed.txt'), 'utf8')));",
    "console.log('READY ' + process.pid);",
    "process.on('SIGTERM', () => process.exit(0));",
    'setInterval(() => {}, 1000);',
  ].join('\n'),
];

beforeAll(async () => {
  if (!canRun) return;
  bundle = await buildBundle(tempDir());
  ws = makeWorkspace(bundle);
  backing = join(ws.dir, 'dav-data');
  tmp = join(ws.dir, 'node-tmp');
  mkdirSync(backing);
  mkdirSync(tmp, { mode: 0o700 });
  writeFileSync(join(backing, 'seed.txt'), 'put there by the WebDAV server\n');
  port = await freePort();
  rclonePid = spawnDaemon(['/usr/bin/rclone', 'serve', 'webdav', backing, '--addr', `127.0.0.1:${port}`, '--config', '/dev/null'], {
    cwd: ws.dir,
    env: { PATH: '/usr/bin:/bin', HOME: ws.dir, RCLONE_USER: USER, RCLONE_PASS: PASSWORD },
    logFile: join(ws.dir, 'rclone.log'),
  });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => null))?.status === 401, {
    timeoutMs: 15_000,
    onTimeout: () => `rclone did not start: ${readFileSync(join(ws.dir, 'rclone.log'), 'utf8')}`,
  });
});

afterAll(async () => {
  if (!canRun) return;
  const left = mounted(mountDir());
  if (rclonePid) await terminate(rclonePid);
  expect(left, 'a WebDAV mount was left behind').toBe(false);
  ws.cleanup();
});

describe.skipIf(!canRun)('webdav step (davfs2 + rclone serve webdav)', () => {
  it('mounts the share for the server, keeps the password out of argv, env and files, unmounts at the end', async () => {
    const { runDir } = writeRunDir(ws, NOTEBOOK, { webdav: webdavConfig(), webdavCredentials: { username: USER, password: PASSWORD } });
    const run = runStartEnv(bundle, ws, runDir, { TMPDIR: tmp });
    const ready = await waitFor(() => /READY (\d+)/.exec(run.output()), { timeoutMs: 30_000, onTimeout: () => run.output() });
    const serverPid = Number(ready[1]);

    // Reading: the server side's file; writing: it arrives in the server's backing directory.
    expect(run.output()).toContain('SEED "put there by the WebDAV server\\n"');
    await waitFor(() => existsSync(join(backing, 'from-notebook.txt')) && readFileSync(join(backing, 'from-notebook.txt'), 'utf8'), { timeoutMs: 15_000 });
    expect(readFileSync(join(backing, 'from-notebook.txt'), 'utf8')).toBe('written by the notebook\n');
    expect(mounted(mountDir())).toBe(true);
    expect(davfsDaemonsFor(mountDir()).length).toBe(1);

    // The password: in no command line, in no environment (rclone's aside), in no file.
    expect(processesHolding(PASSWORD, 'cmdline')).toEqual([]);
    expect(processesHolding(PASSWORD, 'environ')).toEqual([]);
    const serverEnv = readFileSync(`/proc/${serverPid}/environ`, 'utf8').split('\0');
    expect(serverEnv).toContain(`JUPYTERHUB_API_TOKEN=${HUB_TOKEN}`);
    expect(filesHolding(ws.dir, PASSWORD)).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]); // the 0600 davfs2 secrets file is gone once mounted
    expect(existsSync(join(runDir, 'spool'))).toBe(false);
    expect(run.output()).toContain(`mounting the WebDAV share http://127.0.0.1:${port}/ at ${mountDir()}`);
    expect(run.output()).toContain('(/home/jovyan/WebDAV in a container)');

    run.child.kill('SIGTERM'); // relayed to the server, which exits 0 on it
    expect(await run.exited).toBe(0);
    expect(mounted(mountDir())).toBe(false);
    await waitFor(() => davfsDaemonsFor(mountDir()).length === 0, { timeoutMs: 10_000 });
    expect(run.output()).toContain(`unmounted the WebDAV share at ${mountDir()}`);
    expect(run.output()).not.toContain(PASSWORD);
    expect(readFileSync(ws.logFile, 'utf8')).not.toContain(PASSWORD);
    expect(isAlive(serverPid)).toBe(false);
  });

  it('fails the spawn at once on a wrong password, with a clear message in the output and status.json', async () => {
    const wrong = 'not-the-password';
    const { runDir } = writeRunDir(ws, NOTEBOOK, { webdav: webdavConfig(), webdavCredentials: { username: USER, password: wrong } });
    const started = Date.now();
    const run = runStartEnv(bundle, ws, runDir, { TMPDIR: tmp });
    expect(await run.exited).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    const message = statusOf(runDir).message ?? '';
    expect(message).toContain(`webdav: the server at http://127.0.0.1:${port}/ refused the credentials (wrong user name or password?)`);
    expect(run.output()).toContain('refused the credentials');
    expect(message + run.output()).not.toContain(wrong);
    expect(mounted(mountDir())).toBe(false);
    expect(readdirSync(tmp)).toEqual([]);
    expect(run.output()).not.toContain('READY');
  });

  it('fails on an unreachable server instead of mounting "anyway" as davfs2 would', async () => {
    const closed = await freePort();
    const { runDir } = writeRunDir(ws, NOTEBOOK, { webdav: webdavConfig({ url: `http://127.0.0.1:${closed}/` }), webdavCredentials: { username: USER, password: PASSWORD } });
    const run = runStartEnv(bundle, ws, runDir, { TMPDIR: tmp });
    expect(await run.exited).toBe(1);
    expect(statusOf(runDir).message).toContain(`webdav: http://127.0.0.1:${closed}/ is unreachable from this node`);
    expect(mounted(mountDir())).toBe(false);
    await waitFor(() => davfsDaemonsFor(mountDir()).length === 0, { timeoutMs: 10_000 });
  });

  it('never hangs: a server that accepts and never answers is given up after timeoutSeconds', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => void sockets.push(s));
    const silentPort = await freePort();
    await new Promise<void>((r) => silent.listen(silentPort, '127.0.0.1', r));
    try {
      const { runDir } = writeRunDir(ws, NOTEBOOK, {
        webdav: webdavConfig({ url: `http://127.0.0.1:${silentPort}/`, timeoutSeconds: 3 }),
        webdavCredentials: { username: USER, password: PASSWORD },
      });
      const started = Date.now();
      const run = runStartEnv(bundle, ws, runDir, { TMPDIR: tmp });
      expect(await run.exited).toBe(1);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(statusOf(runDir).message).toContain(`webdav: mounting http://127.0.0.1:${silentPort}/ did not finish within 3 s (webdav.timeoutSeconds)`);
      expect(mounted(mountDir())).toBe(false);
      await waitFor(() => davfsDaemonsFor(mountDir()).length === 0, { timeoutMs: 10_000 });
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
