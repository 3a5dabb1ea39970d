// WebDAV settings without a mount: the davfs2 file syntax, which URL a session mounts,
// and what startjob does with the spawn's credentials (secrets.json only, checked at once).
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webdavSchema } from '../../../config/schema-webdav.js';
import { escapeDavfs, writeDavfsFiles } from '../../../hpc-wrappers/start-env/davfs-files.js';
import { resolveMountDir, resolveWebdavUrl } from '../../../hpc-wrappers/webdav-target.js';
import { buildBundle, makeWorkspace, startRequest, tempDir, type Workspace } from './support/hpc-wrap-bundle.js';
import { envReporter, runStartEnv, statusOf, writeRunDir } from './support/software-env.js';

const PASSWORD = 'pw "with" #specials \\ and spaces';

describe('davfs2 files', () => {
  it('escapes exactly space, tab, #, \\ and " (davfs2 1.6.1 calls any other escape a malformed line)', () => {
    expect(escapeDavfs('a b\tc#d\\e"f\'g$h/é')).toBe('a\\ b\\\tc\\#d\\\\e\\"f\'g$h/é');
    expect(() => escapeDavfs('two\nlines')).toThrow();
  });

  it('writes davfs2.conf and the secrets file 0600 in a private 0700 directory, and removes them', () => {
    const f = writeDavfsFiles({ mountDir: '/home/a b/WebDAV', username: 'alice', password: PASSWORD, config: { delay_upload: 0 } });
    try {
      expect(statSync(f.dir).mode & 0o777).toBe(0o700);
      expect(statSync(f.secretsFile).mode & 0o777).toBe(0o600);
      expect(statSync(f.confFile).mode & 0o777).toBe(0o600);
      expect(readFileSync(f.secretsFile, 'utf8')).toBe('/home/a\\ b/WebDAV alice pw\\ \\"with\\"\\ \\#specials\\ \\\\\\ and\\ spaces\n');
      expect(readFileSync(f.confFile, 'utf8')).toBe(`delay_upload 0\nsecrets ${f.secretsFile}\nask_auth 0\n`);
    } finally {
      f.remove();
    }
    expect(() => statSync(f.dir)).toThrow();
  });
});

describe('which share', () => {
  const cfg = webdavSchema.parse({ enabled: true, url: 'https://dav.example.org/files/{user}/', allowedUrlPrefixes: ['https://dav.example.org/files/{escapedUser}'] });

  it('fills {user} and {escapedUser}; a spawn URL must lie below an allowed prefix (a path boundary)', () => {
    expect(resolveWebdavUrl(cfg, null, 'Bob@x.org')).toBe('https://dav.example.org/files/Bob@x.org/');
    expect(resolveWebdavUrl(cfg, 'https://dav.example.org/files/_42ob_40x_2eorg/sub', 'Bob@x.org')).toBe('https://dav.example.org/files/_42ob_40x_2eorg/sub');
    expect(() => resolveWebdavUrl(cfg, 'https://dav.example.org/files/_42ob_40x_2eorg-evil/', 'Bob@x.org')).toThrow(/webdav\.allowedUrlPrefixes/);
    expect(() => resolveWebdavUrl({ url: null, allowedUrlPrefixes: [] }, 'https://evil.example/', 'a')).toThrow(/may not choose/);
  });

  it('refuses URLs with credentials, queries or placeholders in the host; mount dirs from placeholders', () => {
    expect(webdavSchema.safeParse({ url: 'https://u:p@dav.example.org/' }).success).toBe(false);
    expect(webdavSchema.safeParse({ url: 'https://dav.example.org/?x=1' }).success).toBe(false);
    expect(webdavSchema.safeParse({ url: 'https://{user}.example.org/' }).success).toBe(false);
    expect(webdavSchema.safeParse({ enabled: true }).success).toBe(false);
    expect(webdavSchema.safeParse({ options: ['uid=1000,conf=/tmp/x'] }).success).toBe(false);
    expect(webdavSchema.safeParse({ options: ['username=bob'] }).success).toBe(false);
    expect(resolveMountDir({ mountDir: null }, '/run/s-1', null)).toBe('/run/s-1/webdav');
    expect(resolveMountDir({ mountDir: '{home}/WebDAV' }, '/run/s-1', '/homes/a')).toBe('/homes/a/WebDAV');
    expect(() => resolveMountDir({ mountDir: '{home}/WebDAV' }, '/run/s-1', null)).toThrow(/webdav\.mountDir/);
  });
});

describe('startjob with webdav credentials', () => {
  let bundle: string;
  let ws: Workspace;
  beforeAll(async () => {
    bundle = await buildBundle(tempDir());
    ws = makeWorkspace(bundle, {
      webdav: { enabled: true, url: 'https://dav.example.org/files/{user}/', allowedUrlPrefixes: ['https://dav.example.org/files/'] },
      // A job that never starts the server: the spool stays for inspection.
      job: { hpcWrapCommand: [process.execPath, '-e', 'setTimeout(() => {}, 60000)'] },
    });
  });
  afterAll(async () => {
    for (const f of (await import('node:fs')).readdirSync(join(ws.workDir, 'fork')).filter((n) => n.startsWith('fork-'))) await ws.wrap.run(['killjob', f]);
    ws.cleanup();
  });

  it('writes the credentials only to secrets.json (0600); job.json holds the non-secret webdav section', async () => {
    const req = startRequest({ webdav: { username: 'alice', password: PASSWORD } });
    const r = await ws.wrap.run(['startjob'], { input: JSON.stringify(req) });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const { runDir } = r.json as { runDir: string };
    const secrets = JSON.parse(readFileSync(join(runDir, 'spool', 'secrets.json'), 'utf8'));
    expect(secrets.webdav).toEqual({ username: 'alice', password: PASSWORD });
    const jobText = readFileSync(join(runDir, 'spool', 'job.json'), 'utf8');
    expect(JSON.parse(jobText).webdav).toMatchObject({ enabled: true, url: 'https://dav.example.org/files/{user}/' });
    expect(jobText).not.toContain('#specials');
    expect(readFileSync(ws.logFile, 'utf8')).not.toContain('#specials');
    expect(r.stdout + r.stderr).not.toContain('#specials');
  });

  it('refuses at once (exit 2) a URL outside the allowed prefixes and a password with a line break, without echoing it', async () => {
    const outside = await ws.wrap.run(['startjob'], { input: JSON.stringify(startRequest({ webdav: { url: 'https://evil.example/x/', username: 'a', password: PASSWORD } })) });
    expect(outside.code).toBe(2);
    expect(outside.json).toMatchObject({ error: { code: 'invalid', message: expect.stringContaining('webdav.allowedUrlPrefixes') } });
    const broken = await ws.wrap.run(['startjob'], { input: JSON.stringify(startRequest({ webdav: { username: 'a', password: 'line1\nsecret-line2' } })) });
    expect(broken.code).toBe(2);
    expect(broken.json).toMatchObject({ error: { message: expect.stringContaining('webdav.password: password must not contain NUL or line breaks') } });
    expect(outside.stdout + outside.stderr + broken.stdout + broken.stderr).not.toMatch(/#specials|secret-line2/);
  });
});

describe('the WebDAV step before any mount', () => {
  let bundle: string;
  let ws: Workspace;
  beforeAll(async () => {
    bundle = await buildBundle(tempDir());
    ws = makeWorkspace(bundle);
  });
  afterAll(() => ws.cleanup());
  const cfg = { enabled: true, url: 'http://127.0.0.1:9/', mountCommand: ['/nonexistent/mount-must-not-run'] };

  it('fails naming webdav.credentialsFile when the file is readable by others, before mounting', async () => {
    const file = `${ws.dir}/dav-credentials`;
    writeFileSync(file, `alice\n${PASSWORD}\n`, { mode: 0o644 });
    const { runDir } = writeRunDir(ws, envReporter(), { webdav: { ...cfg, credentialsFile: file } });
    const run = runStartEnv(bundle, ws, runDir);
    expect(await run.exited).toBe(1);
    expect(statusOf(runDir).message).toContain(`webdav.credentialsFile: ${file} is readable by others (mode 644); make it 0600`);
    expect(run.output()).not.toContain('#specials');
  });

  it('fails without credentials when required, and starts without the share (saying so) when not', async () => {
    const a = writeRunDir(ws, envReporter(), { webdav: cfg });
    const r1 = runStartEnv(bundle, ws, a.runDir);
    expect(await r1.exited).toBe(1);
    expect(statusOf(a.runDir).message).toContain('webdav: no credentials: the spawn sent none (startjob `webdav`) and webdav.credentialsFile is not set');

    const b = writeRunDir(ws, envReporter(), { webdav: { ...cfg, required: false } });
    const r2 = runStartEnv(bundle, ws, b.runDir);
    expect(await r2.exited, r2.output()).toBe(0);
    expect(r2.output()).toContain('Your WebDAV share was not mounted: no credentials were given.');
  });

  it('names webdav.mountCommand when the mount program cannot be run', async () => {
    const { runDir } = writeRunDir(ws, envReporter(), { webdav: cfg, webdavCredentials: { username: 'alice', password: PASSWORD } });
    const run = runStartEnv(bundle, ws, runDir);
    expect(await run.exited).toBe(1);
    expect(statusOf(runDir).message).toMatch(/webdav\.mountCommand: cannot run \/nonexistent\/mount-must-not-run: .*ENOENT/);
    expect(run.output()).not.toContain('#specials');
  });
});
