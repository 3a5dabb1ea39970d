// Users stay apart with per-user identity (issue 8, finding 3), on real components: five
// real Unix accounts, real Slurm, real sudo with one sudoers line, the bridge running
// hpc-wrap as the service account and startjob/killjob as each student. Every job runs as
// its student; from inside each notebook the other students' homes and run dirs are
// unreadable; and the ONE status call (as the service account) still sees every job's
// phase, port and output tail, through the service group.
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureUser, freePort, run, runOk, startSlurm, type SlurmCluster, type UserInfo } from './harness/index.js';
import { REPO, startBridgeProcess, type BridgeProcess } from './bridge-process.js';

const SVC = 'hpcb-iso-svc';
const STUDENTS = ['isostud1', 'isostud2', 'isostud3', 'isostud4', 'isostud5'];
const STAND_IN = join(REPO, 'test/fixtures/http-stand-in-server.mjs');
const SUDOERS = `/etc/sudoers.d/hpcb-iso-${process.pid}`;

let dir: string;
let slurm: SlurmCluster;
let bridge: BridgeProcess;
let workDir: string;
let hpcWrap: string[];
const users = new Map<string, UserInfo>();
const sessions = new Map<string, any>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(500);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

const session = async (id: string) => (await bridge.api('GET', `/v1/sessions/${id}`)).json;

beforeAll(async () => {
  dir = mkdtempSync('/tmp/hpcb-iso-');
  chmodSync(dir, 0o755);
  const svc = await ensureUser(SVC);
  for (const u of STUDENTS) users.set(u, await ensureUser(u));
  slurm = await startSlurm({ dir: join(dir, 'slurm') });

  // hpc-wrap as a site installs it: a root-owned bundle the sudoers line names.
  mkdirSync(join(dir, 'bin'), { mode: 0o755 });
  const bundle = join(dir, 'bin/hpc-wrap.mjs');
  copyFileSync(join(REPO, 'dist/hpc-wrap.mjs'), bundle);
  chmodSync(bundle, 0o755);
  workDir = join(dir, 'hpc');
  mkdirSync(workDir, { mode: 0o755 });
  chownSync(workDir, svc.uid, svc.gid);
  const hpcWrapConfig = join(dir, 'hpc-wrap.yaml');
  writeFileSync(
    hpcWrapConfig,
    stringify({
      workDir,
      identity: { mode: 'per-user', serviceGroup: SVC },
      scheduler: { kind: 'slurm', env: slurm.env, timeoutSeconds: 20 },
      job: { outputTailLines: 10 },
    }),
  );
  chmodSync(hpcWrapConfig, 0o644);
  hpcWrap = ['/usr/bin/node', bundle, '--config', hpcWrapConfig];

  // The one sudoers line of docs/identity.md (students listed: the harness has no common group).
  writeFileSync(SUDOERS, `${SVC} ALL=(${STUDENTS.join(',')}) NOPASSWD: /usr/bin/node ${bundle} *\n`, { mode: 0o440 });
  await runOk(['visudo', '-cf', SUDOERS]);

  // `hpc-wrap setup`, once, as the service account.
  const setup = await runOk(['runuser', '-u', SVC, '--', ...hpcWrap, 'setup']);
  expect(JSON.parse(setup.stdout).steps.find((s: { path: string }) => s.path === join(workDir, 'users')).mode).toBe('3773');

  mkdirSync(join(dir, 'bridge'), { mode: 0o700 });
  const port = await freePort();
  const bridgeConfig = join(dir, 'hub-bridge.yaml');
  writeFileSync(
    bridgeConfig,
    stringify({
      listen: { host: '127.0.0.1', port },
      apiTokenFile: join(dir, 'bridge/token'),
      stateDb: join(dir, 'bridge/bridge.sqlite'),
      cluster: { transport: { kind: 'local', runAs: SVC, identity: 'sudo' }, hpcWrap, commandTimeoutSeconds: 60 },
      status: { intervalSeconds: 2, startingIntervalSeconds: 0.5 },
      profiles: [{ name: 'small', displayName: 'Small', resources: { cpus: 1, memoryMB: 256, walltime: '00:20:00' } }],
    }),
  );
  bridge = await startBridgeProcess({ config: bridgeConfig, port, tokenFile: join(dir, 'bridge/token') });
}, 300_000);

afterAll(async () => {
  await bridge?.kill('SIGTERM').catch(() => {});
  await slurm?.stop().catch(() => {});
  rmSync(SUDOERS, { force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('identity sudo with five real accounts on real Slurm', () => {
  it('concurrent spawns: each job runs as its student and becomes ready (the service account sees every phase and port)', async () => {
    const created = await Promise.all(
      STUDENTS.map((u) =>
        bridge.api('POST', '/v1/sessions', {
          user: u,
          env: { JUPYTERHUB_SERVICE_PREFIX: `/user/${u}/`, JUPYTERHUB_API_TOKEN: `token-of-${u}-0123456789`, JUPYTERHUB_USER: u },
          command: ['/usr/bin/node', STAND_IN],
        }),
      ),
    );
    for (const c of created) expect(c.status, JSON.stringify(c.json)).toBe(201);
    for (const [i, u] of STUDENTS.entries()) {
      const id = created[i]!.json.id as string;
      const ready = await until(`${u} ready`, async () => {
        const s = await session(id);
        if (s.state === 'failed') throw new Error(`${u} failed: ${s.message}`);
        return s.state === 'ready' ? s : undefined;
      }).catch(async (err) => {
        throw new Error(`${(err as Error).message}\nsession: ${JSON.stringify(await session(id))}\nbridge log: ${bridge.log().slice(-3000)}`);
      });
      sessions.set(u, ready);
    }
    for (const u of STUDENTS) {
      const s = sessions.get(u);
      const job = await runOk(['scontrol', 'show', 'job', s.jobId], { env: slurm.fullEnv() });
      expect(job.stdout).toContain(`UserId=${u}(${users.get(u)!.uid})`);
      const res = await fetch(`${s.url}/user/${u}/api`);
      expect(((await res.json()) as { user: string }).user).toBe(u);
    }
  });

  it("from inside each notebook, every other student's home and run dir are refused; its own are readable", async () => {
    const escaped = (u: string) => u; // plain a-z0-9 names escape to themselves
    for (const u of STUDENTS) {
      const s = sessions.get(u);
      const ask = async (path: string) => (await (await fetch(`${s.url}/user/${u}/probe?path=${encodeURIComponent(path)}`)).json()) as { ok: boolean; code: string | null; uid: number };
      const own = await ask(join(workDir, 'homes', escaped(u)));
      expect(own, 'own home').toMatchObject({ ok: true, uid: users.get(u)!.uid });
      for (const other of STUDENTS.filter((x) => x !== u)) {
        const o = sessions.get(other);
        const runDir = join(workDir, 'users', escaped(other), 'sessions', o.id);
        for (const path of [join(workDir, 'homes', escaped(other)), join(workDir, 'users', escaped(other)), runDir, join(runDir, 'status.json'), join(runDir, 'output.log'), join(runDir, 'spool')]) {
          const r = await ask(path);
          expect(r.ok, `${u} reading ${path}`).toBe(false);
          expect(['EACCES', 'ENOENT'], `${u} reading ${path}: ${r.code}`).toContain(r.code);
        }
      }
      // Nobody can list the shared parents (so nobody learns the others' session ids either).
      expect((await ask(join(workDir, 'users'))).ok).toBe(false);
      expect((await ask(join(workDir, 'homes'))).ok).toBe(false);
    }
  });

  it("a failure of any student's job reaches the bridge with that student's output tail", async () => {
    const created = await Promise.all(
      STUDENTS.map((u) =>
        bridge.api('POST', '/v1/sessions', {
          user: u,
          serverName: 'broken',
          env: { JUPYTERHUB_SERVICE_PREFIX: `/user/${u}/broken/` },
          command: ['/usr/bin/node', '-e', `console.error('boom from ${u}: ImportError'); process.exit(3)`],
        }),
      ),
    );
    for (const [i, u] of STUDENTS.entries()) {
      const failed = await until(`${u}/broken failed`, async () => {
        const s = await session(created[i]!.json.id);
        return s.state === 'failed' ? s : undefined;
      });
      expect(failed.message).toContain(`boom from ${u}: ImportError`);
      expect(failed.message).not.toMatch(/cannot write the application log/);
      expect(failed.message).not.toMatch(new RegExp(`boom from (?!${u}:)`));
    }
  });

  it('stopping every session cancels each job as its student and leaves no spool (no secret) behind', async () => {
    for (const u of STUDENTS) expect((await bridge.api('DELETE', `/v1/sessions/${sessions.get(u).id}`)).status).toBe(202);
    for (const u of STUDENTS) await until(`${u} stopped`, async () => ((await session(sessions.get(u).id)).state === 'stopped' ? true : undefined));
    await until('no job left', async () => ((await slurm.squeue()).filter((j) => STUDENTS.includes(j.user)).length === 0 ? true : undefined), 60_000);
    for (const u of STUDENTS) {
      const sessionsDir = join(workDir, 'users', u, 'sessions');
      for (const sid of readdirSync(sessionsDir)) expect(existsSync(join(sessionsDir, sid, 'spool')), `${u}/${sid}/spool`).toBe(false);
    }
    const r = await run(['grep', '-r', '-l', 'token-of-isostud', workDir, join(dir, 'bridge')]);
    expect(r.stdout.trim(), 'files still holding a hub token').toBe('');
  });
});
