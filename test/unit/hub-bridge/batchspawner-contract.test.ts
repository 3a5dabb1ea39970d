// Contract test: stock batchspawner's SlurmSpawner (defaults, as documented in
// ../shared/brief/reference/batchspawner.md) driving the bridge's submit/query/cancel
// commands. BatchSpawnerModel reproduces how batchspawner runs commands: str.format
// templates, `/bin/sh -c` (asyncio.create_subprocess_shell), the spawner env REPLACING the
// environment on submit only, the script on stdin, stderr as the status on a non-zero
// exit, and the default Slurm regexes matched with re.search semantics (no MULTILINE).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPO, STAND_IN_SERVER, startBridgeFixture, waitFor, type BridgeFixture } from '../../support/bridge-fixture.js';
import { startStandInHubApi, type StandInHubApi } from '../../support/stand-in-hub-api.js';

type Status = 'RUNNING' | 'PENDING' | 'UNKNOWN' | 'NOTFOUND';

class BatchSpawnerModel {
  // SlurmSpawner defaults (verbatim regexes)
  readonly statePendingRe = /^(?:PENDING|CONFIGURING)/;
  readonly stateRunningRe = /^(?:RUNNING|COMPLETING)/;
  readonly stateUnknownRe = /^slurm_load_jobs error: (?:Socket timed out on send\/recv|Unable to contact slurm controller)/;
  readonly stateExechostRe = /\s+((?:[\w_-]+\.?)+)$/;
  execPrefix = '';
  jobId = '';
  jobStatus = '';

  constructor(
    readonly submitCmd: string,
    readonly queryCmd: string,
    readonly cancelCmd: string,
    readonly spawnerEnv: Record<string, string>,
    readonly subvars: Record<string, string>,
  ) {}

  /** Python str.format with named fields; an unknown field is a KeyError. */
  format(t: string, extra: Record<string, string> = {}): string {
    const vars = { ...this.subvars, ...extra };
    return t.replace(/\{(\w+)\}/g, (_m, k: string) => {
      if (!(k in vars)) throw new Error(`KeyError: '${k}'`);
      return vars[k]!;
    });
  }

  /** run_command: shell, optional stdin, env replaced when given; non-zero exit → RuntimeError(stderr). */
  runCommand(cmd: string, input?: string, env?: Record<string, string>): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', cmd], { env: env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += String(d)));
      child.stderr.on('data', (d) => (err += String(d)));
      child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(err.trim()))));
      child.stdin.end(input ?? '');
    });
  }

  private command(t: string, extra: Record<string, string> = {}): string {
    return `${this.format(this.execPrefix)} ${this.format(t, extra)}`.trim();
  }

  /** SlurmSpawner.parse_job_id: last line, split(';')[0], must be an int. */
  parseJobId(output: string): string {
    const last = output.split('\n').at(-1)!.split(';')[0]!;
    if (!/^\s*[+-]?\d+\s*$/.test(last)) throw new Error(`ValueError: invalid literal for int(): '${last}'`);
    return String(parseInt(last, 10));
  }

  async submit(script: string): Promise<string> {
    const out = await this.runCommand(this.command(this.submitCmd), script, this.spawnerEnv);
    this.jobId = this.parseJobId(out);
    return this.jobId;
  }

  async query(): Promise<Status> {
    if (!this.jobId) return 'NOTFOUND';
    try {
      this.jobStatus = await this.runCommand(this.command(this.queryCmd, { job_id: this.jobId }));
    } catch (err) {
      this.jobStatus = (err as Error).message;
    }
    if (this.stateRunningRe.test(this.jobStatus)) return 'RUNNING';
    if (this.statePendingRe.test(this.jobStatus)) return 'PENDING';
    if (this.stateUnknownRe.test(this.jobStatus)) return 'UNKNOWN';
    return 'NOTFOUND';
  }

  host(): string | null {
    return this.stateExechostRe.exec(this.jobStatus)?.[1] ?? null;
  }

  cancel(): Promise<string> {
    return this.runCommand(this.command(this.cancelCmd, { job_id: this.jobId }));
  }
}

let fx: BridgeFixture;
const BIN = join(REPO, 'hub-bridge/batchspawner');

/** batchspawner's default Slurm template, rendered for one user (what submit gets on stdin). */
function slurmScript(user: string, cmd: string): string {
  return [
    '#!/bin/bash',
    `#SBATCH --output=/tmp/jupyterhub_slurmspawner_%j.log`,
    '#SBATCH --job-name=spawner-jupyterhub',
    '#SBATCH --export=JUPYTERHUB_API_TOKEN,JUPYTERHUB_USER',
    '#SBATCH --get-user-env=L',
    '',
    'set -euo pipefail',
    '',
    "trap 'echo SIGTERM received' TERM",
    '',
    cmd,
    'echo "jupyterhub-singleuser ended gracefully"',
    '',
  ].join('\n');
}

function model(user: string, url: string): BatchSpawnerModel {
  const tokenFile = join(fx.dir, 'token');
  return new BatchSpawnerModel(
    `/usr/bin/python3 -IS ${BIN}/hpc-bridge-submit --url ${url} --token-file ${tokenFile}`,
    `${BIN}/hpc-bridge-query ${url} ${tokenFile}.header {job_id}`,
    `${BIN}/hpc-bridge-cancel ${url} ${tokenFile}.header {job_id}`,
    {
      // JupyterHub's Spawner.get_env() (+ UserEnvMixin), no PATH (JupyterHub >= 5.2)
      JUPYTERHUB_API_TOKEN: `token-of-${user}-0123456789abcdef`,
      JUPYTERHUB_USER: user,
      JUPYTERHUB_SERVER_NAME: '',
      JUPYTERHUB_SERVICE_PREFIX: `/user/${user}/`,
      JUPYTERHUB_API_URL: 'http://127.0.0.1:8081/hub/api',
      USER: user,
      HOME: `/home/${user}`,
      SHELL: '/bin/bash',
    },
    { username: user },
  );
}

beforeAll(async () => {
  fx = await startBridgeFixture();
});
afterAll(async () => {
  await fx?.close();
});

describe('stock batchspawner (SlurmSpawner defaults) against the bridge commands', () => {
  it('submit prints a job id parse_job_id accepts; query goes PENDING → RUNNING with the host; cancel ends it (NOTFOUND)', async () => {
    const m = model('alice', fx.bridge.url);
    const hpcWrap = `/usr/bin/node ${join(REPO, 'dist/hpc-wrap.mjs')} --config ${fx.hpcWrapConfig}`;
    const jobId = await m.submit(slurmScript('alice', `${hpcWrap} start-env -- /usr/bin/node ${STAND_IN_SERVER}`));
    expect(jobId).toMatch(/^\d+$/);

    const first = await m.query();
    expect(['PENDING', 'RUNNING']).toContain(first);
    await waitFor('RUNNING', async () => ((await m.query()) === 'RUNNING' ? true : undefined), 20_000, 250);
    expect(m.host()).toBe('127.0.0.1');

    await m.cancel();
    await waitFor('gone', async () => ((await m.query()) === 'NOTFOUND' ? true : undefined), 20_000, 250);
  });

  it('passes the spawner env on submit only: the server gets the token, the query runs with the hub env', async () => {
    const m = model('bob', fx.bridge.url);
    await m.submit(slurmScript('bob', `/usr/bin/node ${join(REPO, 'dist/hpc-wrap.mjs')} --config ${fx.hpcWrapConfig} start-env -- /usr/bin/node ${STAND_IN_SERVER}`));
    const s = await waitFor('ready', async () => {
      const list = fx.bridge.store.list({ user: 'bob' });
      return list[0]?.state === 'ready' ? list[0] : undefined;
    });
    const res = await fetch(`http://${s.host}:${s.port}/user/bob/env-has-token`);
    expect(await res.text()).toBe('yes');
    expect(fx.logs()).not.toContain('token-of-bob');
    await m.cancel();
  });

  it('an unknown job id is NOTFOUND; a malformed one is refused', async () => {
    const m = model('carol', fx.bridge.url);
    m.jobId = '99999';
    expect(await m.query()).toBe('NOTFOUND');
    m.jobId = '1;rm -rf /';
    expect(await m.query()).toBe('NOTFOUND');
  });

  it('with the bridge unreachable, query prints the line state_unknown_re reads as UNKNOWN (never "gone")', async () => {
    const m = model('dave', 'http://127.0.0.1:9'); // discard port: connection refused
    m.jobId = '1';
    expect(await m.query()).toBe('UNKNOWN');
    expect(m.jobStatus).toMatch(/^slurm_load_jobs error: Unable to contact slurm controller/);
  });

  it('a token the bridge refuses (401) is UNKNOWN too, never "gone"; the bridge spelled localhost with a trailing slash answers the same', async () => {
    const m = model('alice', fx.bridge.url);
    m.jobId = '99999';
    const wrong = join(fx.dir, 'wrong.header');
    writeFileSync(wrong, 'Authorization: Bearer not-the-token\n', { mode: 0o600 });
    const status = await m.runCommand(`${BIN}/hpc-bridge-query ${fx.bridge.url} ${wrong} 1`);
    expect(status).toMatch(m.stateUnknownRe);
    const submitted = model('alice', fx.bridge.url);
    submitted.jobId = await submitted.submit(slurmScript('alice', 'sleep 30'));
    const viaLocalhost = model('alice', `${fx.bridge.url.replace('127.0.0.1', 'localhost')}/`);
    viaLocalhost.jobId = submitted.jobId;
    expect(['PENDING', 'RUNNING']).toContain(await viaLocalhost.query());
    await submitted.cancel();
  });

  it('with the bridge down, submit names the bridge and the cause (not just "fetch failed") in words a student can act on', async () => {
    const m = model('dave', 'http://127.0.0.1:9'); // discard port: connection refused
    const err = await m.submit(slurmScript('dave', 'true')).then(() => null, (e: Error) => e);
    expect(err?.message).toMatch(/^The cluster service does not answer, so your server could not be started and nothing was submitted: try again in a few minutes/);
    expect(err?.message).toContain('Details: hpc-bridge at http://127.0.0.1:9: connection refused (is hpc-bridge running?)');
  });

  it('a start the cluster refuses fails at submit with the sentence the student reads, not "job has disappeared"', async () => {
    const message = 'The cluster is in maintenance until 14:00; please try again later.';
    const normal = readFileSync(fx.hpcWrapConfig, 'utf8');
    writeFileSync(fx.hpcWrapConfig, stringify({ workDir: fx.workDir, scheduler: { kind: 'fork' }, maintenance: { enabled: true, message } }));
    try {
      const m = model('frank', fx.bridge.url);
      const err = await m.submit(slurmScript('frank', 'true')).then(() => null, (e: Error) => e);
      // RuntimeError(stderr) is what JupyterHub shows after "Spawn failed: ": exactly the sentence
      expect(err?.message).toBe(message);
    } finally {
      writeFileSync(fx.hpcWrapConfig, normal);
    }
  });

  it('a submit the bridge refuses fails with its message (RuntimeError(stderr))', async () => {
    const m = model('erin', fx.bridge.url);
    m.spawnerEnv.JUPYTERHUB_USER = '../x';
    await expect(m.submit(slurmScript('erin', 'true'))).rejects.toThrow(/user name "..\/x" is not allowed/);
  });
});

/**
 * The job's program either way: Node running the file, or the file run as a program, whose
 * /bin/sh head hands `batchspawner-singleuser` to the Python job launcher at its end.
 */
const singleuserForms: Array<[string, () => string, RegExp, string]> = [
  ['node hpc-wrap.mjs', () => `/usr/bin/node ${join(REPO, 'dist/hpc-wrap.mjs')} --config ${fx.hpcWrapConfig} batchspawner-singleuser`, /starting \/usr\/bin\/node on \S+$/m, ''],
  ['hpc-wrap.mjs run as a program: the Python launcher', () => `${join(REPO, 'dist/hpc-wrap.mjs')} batchspawner-singleuser --config ${fx.hpcWrapConfig}`, /starting \/usr\/bin\/node on \S+ \(by the Python launcher\)$/m, '-py'],
];

/** The job output of `user`'s one session (the run dir's output.log). */
function jobOutput(user: string): string {
  const sessions = join(fx.workDir, 'users', user, 'sessions');
  return readdirSync(sessions).map((d) => readFileSync(join(sessions, d, 'output.log'), 'utf8')).join('\n');
}

describe.each(singleuserForms)('batchspawner_singleuser_cmd = hpc-wrap batchspawner-singleuser (the port callback), %s', (_form, singleuserCmd, startedBy, suffix) => {
  let hub: StandInHubApi | null = null;
  afterEach(async () => {
    await hub?.close();
    hub = null;
  });

  /**
   * BatchSpawnerBase.start(): submit, poll until RUNNING, take the host from the query
   * line, wait for the port the callback sets; then the hub's wait_up on http://host:port.
   */
  async function spawn(user: string, failFirst = 0, token = `token-of-${user}-0123456789abcdef`) {
    hub = await startStandInHubApi({ tokens: [token], failFirst });
    const m = model(user, fx.bridge.url);
    m.spawnerEnv.JUPYTERHUB_API_URL = hub.apiUrl;
    // batchspawner renders {{cmd}} = `<batchspawner_singleuser_cmd> <Spawner.cmd> <args>`
    await m.submit(slurmScript(user, `${singleuserCmd()} /usr/bin/node ${STAND_IN_SERVER} --debug`));
    await waitFor('RUNNING', async () => ((await m.query()) === 'RUNNING' ? true : undefined), 20_000, 250);
    const ip = m.host();
    const h = hub;
    const report = await waitFor('the port callback', () => h.reports[0], 20_000, 250);
    return { m, ip, report, hub: h };
  }

  it('posts exactly {"port": P} with the spawner token; P is where the server answers, query says RUNNING 127.0.0.1', async () => {
    const { m, ip, report, hub: h } = await spawn(`frank${suffix}`);
    expect(report.token).toBe(`token-of-frank${suffix}-0123456789abcdef`);
    expect(Object.keys(report.body as object)).toEqual(['port']);
    const port = (report.body as { port: number }).port;
    expect(report.raw).toBe(JSON.stringify({ port }));
    expect(Number.isInteger(port)).toBe(true);
    expect(h.requests).toEqual([{ status: 200, authorization: `token token-of-frank${suffix}-0123456789abcdef` }]);

    expect(m.jobStatus).toBe('RUNNING 127.0.0.1');
    expect(ip).toBe('127.0.0.1');
    // the hub's wait_up: http://ip:port answers (the server starts right after the report)
    const answer = await waitFor('the server at the reported port', async () => {
      const res = await fetch(`http://${ip}:${port}/user/frank${suffix}/api`);
      return res.ok ? ((await res.json()) as { version: string }) : undefined;
    });
    expect(answer.version).toBe('stand-in');
    expect(jobOutput(`frank${suffix}`)).toMatch(startedBy);
    // fork mode, no tunnel: the bridge records the same node-side port at its next poll
    await waitFor('the bridge records the port', () => (fx.bridge.store.list({ user: `frank${suffix}` })[0]?.port === port ? true : undefined), 20_000, 250);
    expect(fx.logs()).not.toContain(`token-of-frank${suffix}`);

    await m.cancel();
    await waitFor('gone', async () => ((await m.query()) === 'NOTFOUND' ? true : undefined), 20_000, 250);
  });

  it('a hub that answers 503 twice still gets the port (retried with backoff)', async () => {
    const { m, ip, report, hub: h } = await spawn(`grace${suffix}`, 2);
    expect(h.requests.map((r) => r.status)).toEqual([503, 503, 200]);
    const port = (report.body as { port: number }).port;
    expect(report.body).toEqual({ port });
    await waitFor('the server at the reported port', async () => ((await fetch(`http://${ip}:${port}/user/grace${suffix}/api`)).ok ? true : undefined));
    await m.cancel();
    await waitFor('gone', async () => ((await m.query()) === 'NOTFOUND' ? true : undefined), 20_000, 250);
  });

  it('a token the hub refuses (403) fails the job at once with the reason, and batchspawner sees it gone', async () => {
    hub = await startStandInHubApi({ tokens: ['some-other-token'] });
    const m = model(`heidi${suffix}`, fx.bridge.url);
    m.spawnerEnv.JUPYTERHUB_API_URL = hub.apiUrl;
    // The job fails within milliseconds: the submit helper either already sees the failure
    // (and batchspawner shows its reason as the spawn error) or returns the job id, and
    // batchspawner's next query finds the job gone. Either way the student gets the reason.
    const submitted = await m
      .submit(slurmScript(`heidi${suffix}`, `${singleuserCmd()} /usr/bin/node ${STAND_IN_SERVER}`))
      .then(() => null, (err: Error) => err.message);
    if (submitted !== null) expect(submitted).toMatch(/refused this server's API token/);
    const s = await waitFor('failed', () => {
      const x = fx.bridge.store.list({ user: `heidi${suffix}` })[0];
      if (x?.state === 'failed') return x;
      throw new Error(x ? `the session is ${x.state}: ${x.message ?? ''}` : 'no session yet');
    });
    expect(s.message).toMatch(/refused this server's API token/);
    expect(hub.requests.map((r) => r.status)).toEqual([403]);
    expect(await m.query()).toBe('NOTFOUND');
  });
});
