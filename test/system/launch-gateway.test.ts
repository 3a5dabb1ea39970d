// `hpc-wrap launch` without a hub, end to end with real components: the Slurm harness,
// real Unix accounts (ensureUser), the bundled hpc-wrap run by the user as themself, the
// gateway over HTTPS (a self-signed certificate made with openssl) checking routes through
// `hpc-wrap launch-jobs`, Debian's `jupyter notebook` on the node, and Debian's Chromium
// driven by playwright-core. Screenshots: .test-output/launch-gateway/ (or $TEST_OUTPUT_DIR).
import { outputDir } from './browser.js';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { parse, stringify } from 'yaml';
import { createLogger } from '../../hub-bridge/log.js';
import { loadHubBridgeConfig } from '../../config/load.js';
import { formatComment, jupyterToken, randomSecret, secretHash } from '../../contract/launch.js';
import { HpcWrapLaunchJobs } from '../../hub-bridge/gateway/cluster-jobs.js';
import { routeFingerprint } from '../../hub-bridge/gateway/route.js';
import { startGateway, type Gateway } from '../../hub-bridge/gateway/gateway.js';
import { LocalTransport } from '../../hub-bridge/transport/local-transport.js';
import { httpsTo, selfSignedCert } from '../support/gateway-fixture.js';
import { ensureUser, freePort, runAs, sampleCmdlines, startSlurm, type CmdlineSampler, type SlurmCluster } from './harness/index.js';

const REPO = resolve(import.meta.dirname, '../..');
const OUT = outputDir('launch-gateway');
const USER = 'lgalice';
const OTHER = 'lgmallory';
const POLL_SECONDS = 1;

let dir: string;
let site: string;
let slurm: SlurmCluster;
let gateway: Gateway;
let jobs: HpcWrapLaunchJobs;
let ca: string;
let gwPort: number;
let sampler: CmdlineSampler;
let home: string;
const browsers: BrowserContext[] = [];

const cfgFile = () => join(site, 'hpc-wrap.yaml');
const wrapArgv = (args: string[]) => [process.execPath, join(site, 'hpc-wrap.mjs'), '--config', cfgFile(), ...args];
const userEnv = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', MODULEPATH: '' });

/** hpc-wrap as the user, from their home (as they would type it on the login node). */
async function asUser(user: string, args: string[], timeoutMs = 120_000) {
  const r = await runAs(user, wrapArgv(args), { env: userEnv(), timeoutMs });
  let json: any = null;
  try {
    json = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } catch {
    /* text */
  }
  return { ...r, json };
}

async function browser(name: string): Promise<BrowserContext> {
  const ctx = await chromium.launchPersistentContext(mkdtempSync(join(dir, `chromium-${name}-`)), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    ignoreHTTPSErrors: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
      '--host-resolver-rules=MAP gw.test 127.0.0.1, MAP *.gw.test 127.0.0.1',
    ],
  });
  browsers.push(ctx);
  return ctx;
}

/** A screenshot; the waiting page reloads itself every 2 s, so a capture may land mid-navigation: retried. */
async function shot(page: Page, name: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await page.waitForLoadState('load');
      await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
      return;
    } catch (err) {
      if (i >= 10) throw err;
      await sleep(150);
    }
  }
}

async function until<T>(what: string, f: () => Promise<T | null | undefined | false>, ms: number, everyMs = 250): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

beforeAll(async () => {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  dir = mkdtempSync('/tmp/lg-');
  chmodSync(dir, 0o755);
  site = join(dir, 'site');
  mkdirSync(site, { mode: 0o755 });
  chmodSync(site, 0o755);
  const u = await ensureUser(USER);
  await ensureUser(OTHER);
  home = u.home;
  slurm = await startSlurm({ dir: join(dir, 'slurm'), users: [USER, OTHER] });
  // What a site installs: the bundle, a world-readable hpc-wrap.yaml, a module tree, the gateway's certificate.
  copyFileSync(join(REPO, 'dist/hpc-wrap.mjs'), join(site, 'hpc-wrap.mjs'));
  chmodSync(join(site, 'hpc-wrap.mjs'), 0o755);
  const { cert, key } = selfSignedCert(site);
  chmodSync(cert, 0o644);
  ca = readFileSync(cert, 'utf8');
  const tree = join(site, 'modulefiles');
  mkdirSync(join(tree, 'jupyter-env'), { recursive: true, mode: 0o755 });
  writeFileSync(join(tree, 'jupyter-env', '1.0.lua'), 'setenv("JUPYTER_ENV_LOADED", "1.0")\n', { mode: 0o644 });
  gwPort = await freePort();
  writeFileSync(
    cfgFile(),
    stringify({
      workDir: join(dir, 'work'),
      scheduler: { kind: 'slurm', env: slurm.env, timeoutSeconds: 20 },
      jupyter: { portRange: { start: 47000, end: 47999 } },
      launch: {
        defaults: { jupyter: 'notebook' },
        gateway: { url: `https://127.0.0.1:${gwPort}`, caFile: cert },
        keepAliveLeadSeconds: 20,
      },
    }),
    { mode: 0o644 },
  );
  const gwCfg = join(site, 'hub-bridge.yaml');
  writeFileSync(
    gwCfg,
    stringify({
      cluster: { hpcWrap: wrapArgv([]), commandTimeoutSeconds: 30 },
      gateway: {
        listen: { host: '127.0.0.1', port: gwPort },
        tls: { certFile: cert, keyFile: key },
        domain: `gw.test:${gwPort}`,
        stateDir: join(dir, 'gateway'),
        pollIntervalSeconds: POLL_SECONDS,
        startingPollIntervalSeconds: 0.5,
      },
    }),
  );
  const config = loadHubBridgeConfig(gwCfg);
  const transport = new LocalTransport({ runAs: null });
  jobs = new HpcWrapLaunchJobs(transport, config.cluster.hpcWrap!, 30_000);
  gateway = await startGateway(config, { transport, jobs });
  rmSync(join(home, 'nb'), { recursive: true, force: true });
  rmSync(join(home, '.hpc-wrap'), { recursive: true, force: true });
  mkdirSync(join(home, 'nb'), { recursive: true });
  execFileSync('chown', [`${USER}:${USER}`, join(home, 'nb')]);
  sampler = sampleCmdlines(50);
}, 240_000);

afterAll(async () => {
  sampler?.stop();
  if (process.env.LAUNCH_TEST_KEEP) return; // debugging: leave everything for a look
  for (const b of browsers) await b.close().catch(() => {});
  await gateway?.close();
  await slurm?.stop(); // cancels every job
  for (const d of ['.hpc-wrap', 'nb']) rmSync(join(home ?? '/nonexistent', d), { recursive: true, force: true });
}, 120_000);

interface Launched {
  id: string;
  jobId: string;
  url: string;
}
let main: Launched;
let keepAlive: Launched;
let mainCookieBrowser: BrowserContext;

describe('hpc-wrap launch through the gateway (real Slurm, users, Jupyter, Chromium)', () => {
  it('a user launches with galyleo options; the job gets exactly them; the URL shows the waiting page at once, then the notebook, where 1+1 runs', async () => {
    // The keep-alive session runs alongside (its wall time is one minute): checked at the end.
    const ka = await asUser(USER, ['launch', '--cpus', '1', '--memory', '0.5', '--time-limit', '00:01:00', '--keep-alive', '1', '--notebook-dir', join(home, 'nb'), '--disable-checklist', '--json']);
    expect(ka.code, ka.stderr).toBe(0);
    keepAlive = ka.json;

    const ctx = await browser('first');
    mainCookieBrowser = ctx;
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const nb = join(home, 'nb');
    const r = await asUser(USER, ['launch', '--cpus', '2', '--memory', '1', '--time-limit', '00:10:00', '--env-modules', 'jupyter-env/1.0', '--append-modulepath', join(site, 'modulefiles'), '--notebook-dir', nb, '--json']);
    expect(r.code, r.stderr).toBe(0);
    main = r.json;
    expect(main.url).toMatch(new RegExp(`^https://[a-z2-7]{26}\\.gw\\.test:${gwPort}/\\?token=[A-Za-z0-9_-]{43}$`));
    await page.goto(main.url);
    const state = page.locator('#state');
    await expect.poll(async () => (await state.count()) > 0, { timeout: 10_000 }).toBe(true);
    expect(await state.getAttribute('data-phase')).toMatch(/queued|starting/);
    expect(await state.textContent()).toMatch(/queued|running on|starting Jupyter|Checking your job/);
    expect(new URL(page.url()).search).toBe(''); // the token is gone from the address bar
    await shot(page, '1-waiting-page');
    expect(await state.count()).toBe(1); // the screenshot shows the waiting page

    const job = execFileSync('scontrol', ['show', 'job', main.jobId], { env: slurm.fullEnv(), encoding: 'utf8' });
    expect(job).toMatch(/UserId=lgalice\(/);
    expect(job).toMatch(/NumCPUs=2 /);
    expect(job).toMatch(/CPUs\/Task=2 /);
    expect(job).toMatch(/MinMemoryNode=1G /);
    expect(job).toMatch(/TimeLimit=00:10:00 /);
    expect(job).toMatch(/NumNodes=1 /);
    expect(job).toContain(`WorkDir=${nb}`);
    expect(job).toMatch(/Comment=hpcwrap-launch:v1:[A-Za-z0-9_-]{43}/);

    // The page turns into the notebook by itself (it refreshes until Jupyter answers).
    await page.waitForURL(/\/tree/, { timeout: 120_000 });
    await page.locator('#notebook_list').waitFor({ timeout: 30_000 });
    await shot(page, '2-notebook-tree');

    // A new notebook, as a user makes it: New → Python 3.
    await page.locator('#new-dropdown-button').click();
    const [nbPage] = await Promise.all([ctx.waitForEvent('page', { timeout: 60_000 }), page.locator('#kernel-python3 a, [id^="kernel-python3"] a, li[id^="kernel-"] a').first().click()]);
    await nbPage.waitForURL(/\/notebooks\/Untitled.*\.ipynb/, { timeout: 90_000 });
    await nbPage.locator('#kernel_indicator_icon.kernel_idle_icon').waitFor({ timeout: 90_000 });
    const cell = nbPage.locator('.CodeMirror').first();
    await cell.click();
    await nbPage.keyboard.type('1+1');
    await nbPage.keyboard.press('Shift+Enter');
    const out = nbPage.locator('.output_result pre, .output_subarea.output_text pre').first();
    await out.waitFor({ timeout: 60_000 });
    expect((await out.textContent())?.trim()).toBe('2'); // the kernel's answer came over the WebSocket through the gateway
    await shot(nbPage, '3-notebook-1plus1');
    expect(existsSync(join(nb, 'Untitled.ipynb'))).toBe(true);
    const log = readFileSync(join(home, '.hpc-wrap', 'launches', main.id, 'jobs', '1', 'output.log'), 'utf8');
    expect(log).toContain('loaded modules: jupyter-env/1.0');
  }, 300_000);

  it('the same URL in a second browser after the first visit: refused; a guessed label: refused the same way', async () => {
    const ctx = await browser('second');
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const res = await page.goto(main.url);
    expect(res?.status()).toBe(403);
    const refusal = await res!.text();
    expect(await page.locator('h1').textContent()).toBe('This link is not valid here');
    await shot(page, '4-second-browser-refused');
    const guessed = new URL(main.url);
    guessed.hostname = `${'b'.repeat(26)}.gw.test`;
    const g = await page.goto(guessed.toString());
    expect(g?.status()).toBe(403);
    expect(await g?.text()).toBe(refusal);
    await shot(page, '5-guessed-label-refused');
  }, 60_000);

  it('another user can neither register the job, nor change its comment, nor take the route over, nor read the launch files', async () => {
    const label = new URL(main.url).hostname.split('.')[0]!;
    const route = gateway.table.find(label)!;
    const before = route.live.job!;
    const portBefore = route.live.port;
    // register alice's job without alice's secret (mallory sees only the hash, in squeue)
    const reg = await httpsTo(gwPort, ca, {
      host: `127.0.0.1:${gwPort}`, path: '/_hpcwrap/v1/routes', method: 'POST',
      body: JSON.stringify({ version: 1, jobId: main.jobId, secret: randomSecret(), tokenHash: secretHash(randomSecret()) }),
    });
    expect(reg.status).toBe(403);
    // point alice's job at another port
    const upd = await slurm.run(['scontrol', 'update', `JobId=${main.jobId}`, `Comment=${formatComment(route.record.secretHash, 1234)}`], { user: OTHER });
    expect(upd.code).not.toBe(0);
    // a job of mallory's own carrying alice's hash (copied from squeue) and a port of mallory's
    const fake = await slurm.run(['sbatch', '--parsable', `--comment=${formatComment(route.record.secretHash, 47999)}`, '--output=/dev/null', '--wrap', 'sleep 300'], { user: OTHER });
    expect(fake.code, fake.stderr).toBe(0);
    const fakeId = fake.stdout.trim();
    await until('mallory\'s job to run', async () => (await slurm.squeue()).find((j) => j.id === fakeId && j.state === 'RUNNING'), 30_000);
    const calls = jobs.calls;
    await until('two more polls', async () => jobs.calls >= calls + 2, 60_000);
    expect(route.record.jobId).toBe(main.jobId);
    expect(route.live.job).toMatchObject({ id: main.jobId, user: USER, node: before.node });
    expect(route.live.port).toBe(portBefore);
    // the route still serves alice's notebook to alice's browser
    const page = await mainCookieBrowser.newPage();
    const api = await page.goto(new URL('/api/status', main.url).toString());
    expect(api?.status()).toBe(200);
    expect(await api?.text()).toContain('"kernels": 1');
    await page.close();
    // alice's launch files
    const cat = await runAs(OTHER, ['cat', join(home, '.hpc-wrap', 'launches', main.id, 'secret.json')], { env: userEnv() });
    expect(cat.code).not.toBe(0);
    expect(cat.stderr).toMatch(/Permission denied/);
    await slurm.run(['scancel', fakeId]);
  }, 120_000);

  it('list/status/url work for the user (JSON); nothing secret in any argv, log or debug file', async () => {
    const list = await asUser(USER, ['list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const mine = list.json.launches.find((l: { id: string }) => l.id === main.id);
    expect(mine).toMatchObject({ state: 'running', jobId: main.jobId, interface: 'notebook', keepAlive: { max: 0, used: 0 } });
    const status = await asUser(USER, ['status', main.id, '--json']);
    expect(status.json).toMatchObject({ id: main.id, state: 'running', node: slurm.nodeName });
    const url = await asUser(USER, ['url', main.id, '--json']);
    expect(url.json.url).toBe(main.url);

    const secret = JSON.parse(readFileSync(join(home, '.hpc-wrap', 'launches', main.id, 'secret.json'), 'utf8')) as { routeSecret: string; oneTimeToken: string };
    const secrets = [secret.routeSecret, secret.oneTimeToken, jupyterToken(secret.routeSecret)];
    const cmdlines = sampler.seen();
    expect(cmdlines.some((c) => c.includes('launch-env'))).toBe(true); // the sampler saw the job
    for (const s of secrets) expect(cmdlines.filter((c) => c.includes(s))).toEqual([]);
    const files = [
      gateway.auditFile,
      join(home, '.hpc-wrap', 'hpc-wrap.log'),
      join(home, '.hpc-wrap', 'launches', main.id, 'launch.json'),
      join(home, '.hpc-wrap', 'launches', main.id, 'jobs', '1', 'output.log'),
      join(home, '.hpc-wrap', 'launches', main.id, 'jobs', '1', 'submitted.sh'),
    ];
    for (const f of files) for (const s of secrets) expect(readFileSync(f, 'utf8').includes(s), `${f} holds a secret`).toBe(false);
    expect(readFileSync(gateway.auditFile, 'utf8')).not.toContain(new URL(main.url).hostname.split('.')[0]);
  }, 60_000);

  it('after `hpc-wrap stop` the route is gone within one poll interval; a job ended by the scheduler loses its route at the first poll that sees it', async () => {
    const label = new URL(main.url).hostname.split('.')[0]!;
    const stop = await asUser(USER, ['stop', main.id, '--json']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.json.cancelled).toContain(main.jobId);
    expect(gateway.table.find(label)!.live.endedAt).not.toBeNull();
    const page = await mainCookieBrowser.newPage();
    const gone = await page.goto(new URL('/api/status', main.url).toString());
    expect(gone?.status()).toBe(410);
    await shot(page, '6-after-stop');
    await page.close();

    // Without `stop`: the scheduler ends the job (scancel as the user), the gateway finds out by polling.
    const other = await asUser(USER, ['launch', '--cpus', '1', '--time-limit', '00:05:00', '--notebook-dir', join(home, 'nb'), '--disable-checklist', '--json']);
    expect(other.code, other.stderr).toBe(0);
    const l2 = new URL(other.json.url).hostname.split('.')[0]!;
    await until('the second session to be up', async () => gateway.table.find(l2)?.live.ready, 120_000);
    await slurm.run(['scancel', other.json.jobId], { user: USER });
    const at = jobs.calls;
    await until('the route to go', async () => gateway.table.find(l2)?.live.endedAt, 30_000, 50);
    // the poll that was running when the job was cancelled may have missed it; the next one may not
    expect(jobs.calls - at).toBeLessThanOrEqual(2);
    expect(readFileSync(gateway.auditFile, 'utf8')).toMatch(/"event":"removed".*"reason":"job \d+ ended"/);
  }, 240_000);

  it('--keep-alive 1: the session that reaches its wall time is resubmitted once, the route follows it, and list shows it', async () => {
    // Launched in the first test with a one-minute wall time; by now it has usually been resubmitted.
    const fp = routeFingerprint(new URL(keepAlive.url).hostname.split('.')[0]!);
    const moved = await until('the keep-alive successor to take the route over', async () => {
      const events = readFileSync(gateway.auditFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, string>);
      return events.find((e) => e.event === 'job-moved' && e.route === fp && e.from === keepAlive.jobId) ?? null;
    }, 240_000, 1000);
    const successor = moved.jobId!;
    expect(Number(successor)).toBeGreaterThan(Number(keepAlive.jobId));
    const list = await asUser(USER, ['list', '--json']);
    const ka = list.json.launches.find((l: { id: string }) => l.id === keepAlive.id);
    expect(ka.keepAlive).toEqual({ max: 1, used: 1 });
    expect(ka.jobs.map((j: { jobId: string }) => j.jobId)).toEqual([keepAlive.jobId, successor]);
    const out = readFileSync(join(home, '.hpc-wrap', 'launches', keepAlive.id, 'jobs', '1', 'output.log'), 'utf8');
    expect(out).toContain(`keep-alive: submitted job ${successor}`);
    expect(out).toMatch(/CANCELLED AT .* DUE TO TIME LIMIT/); // it was the wall time, not a stop
    expect(readFileSync(join(home, '.hpc-wrap', 'launches', keepAlive.id, 'jobs', '2', 'submitted.json'), 'utf8')).toContain(`"afterJob": "${keepAlive.jobId}"`);
    const stop = await asUser(USER, ['stop', keepAlive.id, '--json']);
    expect(stop.code, stop.stderr).toBe(0);
    const clean = await asUser(USER, ['clean', '--json']);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.json.kept).toEqual([]);
    expect(readdirSync(join(home, '.hpc-wrap', 'launches'))).toEqual([]);
  }, 300_000);
});

describe('gateway.backend: tunnel — nodes the gateway cannot reach (real Slurm, the job\'s real tunnel step, Jupyter)', () => {
  let tgw: Gateway;
  let tgwPort: number;
  let tcfg: string;
  let gwLog = '';

  beforeAll(async () => {
    tgwPort = await freePort();
    const tunnelPort = await freePort();
    tcfg = join(site, 'hpc-wrap-tunnel.yaml');
    const base = parse(readFileSync(cfgFile(), 'utf8')) as { launch: { gateway: Record<string, unknown> } };
    base.launch.gateway.url = `https://127.0.0.1:${tgwPort}`;
    writeFileSync(tcfg, stringify(base), { mode: 0o644 });
    const file = join(site, 'hub-bridge-tunnel.yaml');
    const gw = parse(readFileSync(join(site, 'hub-bridge.yaml'), 'utf8')) as { cluster: { hpcWrap: string[] }; gateway: Record<string, unknown> };
    gw.cluster.hpcWrap = [process.execPath, join(site, 'hpc-wrap.mjs'), '--config', tcfg];
    Object.assign(gw.gateway, {
      listen: { host: '127.0.0.1', port: tgwPort },
      domain: `gw.test:${tgwPort}`,
      stateDir: join(dir, 'gateway-tunnel'),
      backend: 'tunnel',
      tunnel: { listen: { host: '127.0.0.1', port: tunnelPort }, publicHost: '127.0.0.1', ports: { start: 46000, end: 46099 } },
    });
    writeFileSync(file, stringify(gw));
    const config = loadHubBridgeConfig(file);
    const transport = new LocalTransport({ runAs: null });
    const sink = new Writable({
      write(chunk, _e, cb) {
        gwLog += String(chunk);
        cb();
      },
    });
    tgw = await startGateway(config, { transport, jobs: new HpcWrapLaunchJobs(transport, config.cluster.hpcWrap!, 30_000), log: createLogger('info', sink) });
  }, 60_000);
  afterAll(async () => {
    await tgw?.close();
  });

  it('launch gets a held port P and a key; the job forwards P to Jupyter on its loopback; the notebook answers through P only; stop releases P', async () => {
    const r = await runAs(USER, [process.execPath, join(site, 'hpc-wrap.mjs'), '--config', tcfg, 'launch', '--cpus', '1', '--time-limit', '00:05:00', '--notebook-dir', join(home, 'nb'), '--disable-checklist', '--json'], { env: userEnv(), timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const l = JSON.parse(r.stdout.trim().split('\n').pop()!) as Launched;
    const launchDir = join(home, '.hpc-wrap', 'launches', l.id);
    const rec = JSON.parse(readFileSync(join(launchDir, 'launch.json'), 'utf8'));
    const secret = JSON.parse(readFileSync(join(launchDir, 'secret.json'), 'utf8'));
    expect(rec.bindAddress).toBe('127.0.0.1');
    expect(rec.gateway.tunnel).toMatchObject({ host: '127.0.0.1', user: 'tunnelbot' });
    expect(JSON.stringify(rec)).not.toContain('PRIVATE KEY');
    expect(secret.tunnelPrivateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    const P = rec.gateway.tunnel.remotePort as number;
    const label = new URL(l.url).hostname.split('.')[0]!;
    const redeemed = await httpsTo(tgwPort, ca, { host: `${label}.gw.test:${tgwPort}`, path: new URL(l.url).search ? `/${new URL(l.url).search}` : '/' });
    expect(redeemed.status).toBe(303);
    const cookie = String(redeemed.headers['set-cookie']).split(';')[0]!;
    await until('the route to be up through the tunnel', async () => tgw.table.find(label)?.live.ready, 150_000);
    const route = tgw.table.find(label)!;
    expect(tgw.tunnels!.upPort(label)).toBe(P);
    expect(route.live.port).not.toBe(P); // the comment's port is the node's; the gateway uses P
    const api = await httpsTo(tgwPort, ca, { host: `${label}.gw.test:${tgwPort}`, path: '/api/status', headers: { cookie } });
    expect(api.status).toBe(200);
    expect(api.body).toContain('"started"');
    // Jupyter listens on the node's loopback only.
    const listening = (port: number) =>
      execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' })
        .split('\n')
        .filter((line) => line.trim())
        .map((line) => line.trim().split(/\s+/)[3]); // the local address column
    expect(listening(route.live.port!)).toEqual([`127.0.0.1:${route.live.port}`]);
    const out = readFileSync(join(launchDir, 'jobs', '1', 'output.log'), 'utf8');
    expect(out).toContain(`tunnel up: hub 127.0.0.1:${P}`);
    // The key: in secret.json only (not argv, the job output, the launch record, the user's log, the gateway's log or audit).
    const keyLine = (secret.tunnelPrivateKey as string).split('\n')[1]!;
    expect(sampler.seen().filter((c) => c.includes(keyLine))).toEqual([]);
    for (const f of [join(launchDir, 'jobs', '1', 'output.log'), join(home, '.hpc-wrap', 'hpc-wrap.log'), tgw.auditFile]) expect(readFileSync(f, 'utf8')).not.toContain(keyLine);
    expect(gwLog).not.toContain(keyLine);
    // stop: the route ends, P is released, the agent's connection is cut.
    const stop = await runAs(USER, [process.execPath, join(site, 'hpc-wrap.mjs'), '--config', tcfg, 'stop', l.id, '--json'], { env: userEnv(), timeoutMs: 60_000 });
    expect(stop.code, stop.stderr).toBe(0);
    expect(tgw.tunnels!.upPort(label)).toBeNull();
    expect(listening(P)).toEqual([]);
    await until("the agent's connection to be cut", async () => tgw.tunnels!.tunnels.endpoint.stats().authenticated === 0, 5_000, 100);
  }, 240_000);
});
