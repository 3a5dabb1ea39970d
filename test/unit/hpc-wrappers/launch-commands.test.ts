// The user's commands over their launches, on a site without a gateway and without a batch
// system (the fork scheduler runs the launch job as a local process; the server is
// test/fixtures/launch-server-stand-in.mjs, which listens where hpc-wrap's config file says):
// list / status / url (the ssh -L command for the job's node and port) / logs / stop / clean,
// each with --json; the debug files under the user's state dir, owner-only, no secret.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jupyterToken } from '../../../contract/launch.js';
import { REPO } from './support/hpc-wrap-bundle.js';
import { launchSite, type LaunchSite } from './support/launch-site.js';

const STAND_IN = resolve(REPO, 'test/fixtures/launch-server-stand-in.mjs');
let site: LaunchSite;
let id: string;
let jobId: string;

beforeAll(async () => {
  site = await launchSite({ jupyterCommand: { notebook: [process.execPath, STAND_IN] }, sshHost: 'login.example.org', localPort: 8899 });
  const r = await site.run(['launch', '-c', '1', '-t', '00:05:00', '--disable-checklist', '--json']);
  expect(r.code, r.stderr).toBe(0);
  ({ id, jobId } = r.json as { id: string; jobId: string });
}, 60_000);
afterAll(async () => {
  await site?.run(['stop', id]).catch(() => {});
});

async function until<T>(what: string, f: () => Promise<T | null>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('a launch without a gateway', () => {
  it('`url` prints the exact ssh -L command for the node and port, and the notebook token (which the server demands)', async () => {
    const url = await until('the server to run', async () => {
      const r = await site.run(['url', id, '--json']);
      return r.code === 0 ? (r.json as Record<string, any>) : null;
    });
    expect(url.node).toBe(hostname());
    const me = userInfo().username;
    expect(url.ssh.argv).toEqual(['ssh', '-N', '-L', `8899:127.0.0.1:${url.port}`, '-J', `${me}@login.example.org`, `${me}@${hostname()}`]);
    expect(url.ssh.alternative).toBeNull(); // the server is on the node's loopback
    const secret = JSON.parse(readFileSync(join(site.stateDir, 'launches', id, 'secret.json'), 'utf8')) as { routeSecret: string };
    expect(url.token).toBe(jupyterToken(secret.routeSecret));
    const withToken = await fetch(`http://127.0.0.1:${url.port}/api/status`, { headers: { authorization: `token ${url.token}` } });
    expect(withToken.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${url.port}/api/status`)).status).toBe(403);
    const text = await site.run(['url', id]);
    expect(text.stdout).toContain(`ssh -N -L 8899:127.0.0.1:${url.port} -J`);
    expect(text.stdout).toContain('then open http://127.0.0.1:8899/');
  });

  it('`list` and `status` (text and --json) show the running launch', async () => {
    const list = await site.run(['list', '--json']);
    const mine = (list.json as { launches: Record<string, any>[] }).launches.find((l) => l.id === id)!;
    expect(mine).toMatchObject({ state: 'running', jobId, url: null, keepAlive: { max: 0, used: 0 } });
    const text = await site.run(['list']);
    expect(text.stdout.split('\n')[0]).toMatch(/^LAUNCH\s+JOB\s+STATE\s+KEEP-ALIVE\s+CREATED\s+DETAILS$/);
    expect(text.stdout).toMatch(new RegExp(`${id}\\s+${jobId}\\s+running`));
    const status = await site.run(['status', id.slice(0, 5)]); // a unique prefix is enough
    expect(status.stdout).toContain(`Launch ${id}: ready on ${hostname()}`);
    expect(status.stdout).toContain('(no gateway: hpc-wrap url shows the ssh command)');
    const byJob = await site.run(['status', jobId, '--json']);
    expect((byJob.json as { id: string }).id).toBe(id);
    const unknown = await site.run(['status', 'lzzzzzzzz']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no launch "lzzzzzzzz" (see `hpc-wrap list`)');
  });

  it('`logs` shows the job output (--json: the lines)', async () => {
    const r = await site.run(['logs', id, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((r.json as { lines: string[] }).lines.join('\n')).toMatch(/stand-in listening on 127\.0\.0\.1:\d+/);
    const last = await site.run(['logs', 'last', '-n', '50']);
    expect(last.stdout).toContain('preparing the environment');
  });

  it('the debug files are owner-only and hold no secret outside secret.json', () => {
    const dir = join(site.stateDir, 'launches', id);
    expect(statSync(site.stateDir).mode & 0o077).toBe(0);
    expect(statSync(dir).mode & 0o077).toBe(0);
    expect(statSync(join(dir, 'secret.json')).mode & 0o777).toBe(0o600);
    const secret = JSON.parse(readFileSync(join(dir, 'secret.json'), 'utf8')) as { routeSecret: string };
    const token = jupyterToken(secret.routeSecret);
    const files = ['launch.json', 'jobs/1/submitted.sh', 'jobs/1/submitted.json', 'jobs/1/output.log', 'jobs/1/status.json'].map((f) => join(dir, f));
    for (const f of [...files, join(site.stateDir, 'hpc-wrap.log')]) {
      const text = readFileSync(f, 'utf8');
      expect(text.includes(secret.routeSecret) || text.includes(token), f).toBe(false);
    }
    expect(readFileSync(join(dir, 'launch.json'), 'utf8')).toContain('"cpus": 1');
  });

  it('`clean` keeps a running launch; `stop` ends it; then `clean` removes it', async () => {
    const kept = await site.run(['clean', '--json']);
    expect((kept.json as { kept: { id: string }[] }).kept.map((k) => k.id)).toContain(id);
    const stop = await site.run(['stop', id, '--json']);
    expect(stop.code, stop.stderr).toBe(0);
    expect((stop.json as { cancelled: string[] }).cancelled).toEqual([jobId]);
    await until('the job to end', async () => {
      const s = await site.run(['status', id, '--json']);
      return (s.json as { state: string }).state === 'stopped' ? true : null;
    });
    const url = await site.run(['url', id]);
    expect(url.code).toBe(2);
    expect(url.stderr).toContain('is stopped');
    const clean = await site.run(['clean', '--json']);
    expect((clean.json as { removed: string[] }).removed).toContain(id);
    expect(readdirSync(join(site.stateDir, 'launches'))).not.toContain(id);
  });

  it('with no launches left, says how to start one', async () => {
    const r = await site.run(['status']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('you have no launches (`hpc-wrap launch ...` starts one)');
  });
});
