// `hpc-wrap batchspawner-singleuser` (stock batchspawner's batchspawner_singleuser_cmd):
// - through the tunnel (the bundle against the bridge's real tunnel endpoint, in this
//   process, as in tunnel-agent.test.ts): the port report goes over the tunnel's API
//   forward and names the HUB-side port (tunnel.remotePort), where the server then answers;
// - the command line: the server's own options are never read as hpc-wrap's;
// - the port-report step in-process: refusals that retrying cannot fix fail at once with
//   what to do, an unreachable hub fails after the deadline, https with a client
//   certificate (JUPYTERHUB_SSL_*), the token never in the job output.
import { execFileSync, spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AppLog } from '../../../hpc-wrappers/app-log.js';
import { parseSingleuserArgs } from '../../../hpc-wrappers/batchspawner-singleuser.js';
import { batchspawnerApiUrl, createPortReportStep } from '../../../hpc-wrappers/start-env/port-report-step.js';
import type { EnvironmentContext, EnvironmentStep } from '../../../hpc-wrappers/start-env/steps.js';
import type { JobDescription } from '../../../hpc-wrappers/startjob/job-description.js';
import { startStandInHubApi } from '../../support/stand-in-hub-api.js';
import { startTestEndpoint } from '../../support/tunnel-endpoint.js';
import { buildBundle, makeWorkspace, REPO, tempDir, waitFor, type Workspace } from './support/hpc-wrap-bundle.js';

const STAND_IN_SERVER = join(REPO, 'test/fixtures/http-stand-in-server.mjs');
const TOKEN = 'hub-token-5f1e9a7c3b2d';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A job's process: its output (stdout + stderr) so far, its exit; stopped with SIGTERM after the test. */
function jobProcess(child: ChildProcessByStdio<null, Readable, Readable>) {
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<number | null>((r) => child.on('close', r));
  cleanup.push(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  return { exited, output: () => output };
}

describe('batchspawner-singleuser through the tunnel', () => {
  let bundle: string;
  let ws: Workspace;
  beforeAll(async () => {
    bundle = await buildBundle(tempDir());
    ws = makeWorkspace(bundle);
  });
  afterAll(() => ws.cleanup());

  /** The run dir startjob writes for a ready script with a tunnel. */
  function runDir(tunnel: JobDescription['tunnel'], privateKey: string): string {
    const dir = join(ws.workDir, 'users', 'alice', 'sessions', `s-${'b'.repeat(26)}`);
    mkdirSync(join(dir, 'spool'), { recursive: true, mode: 0o700 });
    const env = {
      JUPYTERHUB_API_TOKEN: TOKEN,
      JUPYTERHUB_SERVICE_PREFIX: '/user/alice/',
      // the hub's own view of its API: not reachable from the "node", only through the tunnel
      JUPYTERHUB_API_URL: 'http://hub.invalid:8081/hub/api',
    };
    writeFileSync(join(dir, 'spool', 'secrets.json'), JSON.stringify({ env, tunnelPrivateKey: privateKey }), { mode: 0o600 });
    const job: JobDescription = {
      version: 1,
      sessionId: `s-${'b'.repeat(26)}`,
      user: 'alice',
      serverName: '',
      command: ['/bin/false'],
      home: null,
      jupyter: { bindAddress: '127.0.0.1', portRange: { start: 51000, end: 51100 } },
      environment: null,
      gpuVariables: [],
      gpus: null,
      overlay: null,
      tunnel,
      webdav: null,
      logFile: ws.logFile,
      runtime: null, // as an older hpc-wrap wrote it: start-env reads the config
      createdAt: new Date().toISOString(),
    };
    writeFileSync(join(dir, 'spool', 'job.json'), JSON.stringify(job), { mode: 0o600 });
    return dir;
  }

  it('reports P = tunnel.remotePort over the tunnel API forward; the hub reaches the server at P', async () => {
    const api = await startStandInHubApi({ tokens: [TOKEN] });
    cleanup.push(() => api.close());
    const endpoint = await startTestEndpoint({ apiPort: api.port });
    cleanup.push(() => endpoint.close());
    const session = await endpoint.session();
    const remotePort = session.grant.remotePort;
    const dir = runDir(session.spec, session.grant.privateKey);

    // as in a batchspawner script: the run dir only in $HPC_WRAP_RUN_DIR (startjob exports it)
    const child = spawn(process.execPath, [bundle, '--config', ws.configPath, 'batchspawner-singleuser', process.execPath, STAND_IN_SERVER, '--debug'], {
      env: { ...process.env, HPC_WRAP_RUN_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { exited, output } = jobProcess(child);

    const report = await waitFor(async () => api.reports[0], `the port report (job output:\n${output()})`);
    expect(report.body).toEqual({ port: remotePort });
    expect(report.raw).toBe(`{"port":${remotePort}}`);
    expect(report.token).toBe(TOKEN);
    expect(api.requests).toHaveLength(1);
    // it went through the tunnel (JUPYTERHUB_API_URL names hub.invalid), carried by this session's connection
    expect(endpoint.tunnels.state(session.sessionId)?.state).toBe('up');

    // what the hub does next: look for the server at 127.0.0.1:P on the hub host, i.e. through
    // the forward — and since the port is reported only once the server listens, its FIRST
    // look finds it (no back-off wait)
    const body = await fetch(`http://127.0.0.1:${remotePort}/user/alice/api`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text());
    expect(JSON.parse(body)).toMatchObject({ version: 'stand-in', user: null });

    // start-env's own probe marks it listening a moment later
    const status = await waitFor(async () => {
      const st = JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8'));
      return st.phase === 'listening' ? st : null;
    }, 'status.json listening');
    expect(status).toMatchObject({ phase: 'listening', host: '127.0.0.1', tunnel: 'up' });
    expect(status.port).not.toBe(remotePort); // the node side is its own port
    expect(output()).toMatch(new RegExp(`reporting port ${remotePort} to the hub: POST http://127\\.0\\.0\\.1:\\d+/hub/api/batchspawner \\(through the tunnel`));
    expect(output()).toContain(`the hub accepted port ${remotePort} (HTTP 200)`);
    expect(output()).not.toContain(TOKEN);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

describe('the command line', () => {
  it('reads hpc-wrap options only before the server command; the rest is the server argv', () => {
    expect(parseSingleuserArgs(['batchspawner-singleuser', 'jupyterhub-singleuser', '--debug', '--config=x.py', '--run-dir', 'y'])).toEqual({
      runDir: undefined,
      config: undefined,
      help: false,
      command: ['jupyterhub-singleuser', '--debug', '--config=x.py', '--run-dir', 'y'],
    });
    expect(parseSingleuserArgs(['batchspawner-singleuser', '--run-dir', '/r', '--config=/c.yaml', '--', '--weird-server'])).toEqual({
      runDir: '/r',
      config: '/c.yaml',
      help: false,
      command: ['--weird-server'],
    });
    expect(parseSingleuserArgs(['--help']).help).toBe(true);
    expect(() => parseSingleuserArgs(['--debug', 'jupyterhub-singleuser'])).toThrow(/unknown option "--debug" before the server command/);
    expect(() => parseSingleuserArgs(['--run-dir'])).toThrow(/--run-dir needs a value/);
  });

  it('joins the API URL like url_path_join', () => {
    expect(batchspawnerApiUrl('http://127.0.0.1:8081/hub/api').href).toBe('http://127.0.0.1:8081/hub/api/batchspawner');
    expect(batchspawnerApiUrl('https://hub:8081/prefix/hub/api/').href).toBe('https://hub:8081/prefix/hub/api/batchspawner');
    expect(() => batchspawnerApiUrl('hub:8081')).toThrow(/http\(s\) URL/);
  });
});

// ---- the step in-process ---------------------------------------------------------------

function context(env: Record<string, string>, port = 45678): { ctx: EnvironmentContext; lines: string[] } {
  const lines: string[] = [];
  const job = { sessionId: 's-x', user: 'alice', tunnel: null, jupyter: { bindAddress: '127.0.0.1', portRange: { start: 1, end: 2 } } } as unknown as JobDescription;
  const log = { info() {}, warn() {}, error() {}, debug() {} } as unknown as AppLog;
  const ctx: EnvironmentContext = {
    runDir: '/nonexistent',
    job,
    hubEnv: env,
    env: { ...env },
    cwd: '/',
    host: '127.0.0.1',
    port,
    overlay: null,
    containerBinds: [],
    log,
    say: (l) => lines.push(l),
    notice: (l) => lines.push(l),
  };
  return { ctx, lines };
}

describe('the port-report step', () => {
  const fast = { deadlineMs: 1_500, initialBackoffMs: 50, maxBackoffMs: 200 };
  /** As start-env runs it: prepare before the server starts, the report once it listens. */
  const report = async (step: EnvironmentStep, ctx: EnvironmentContext) => {
    await step.prepare(ctx);
    await step.listening!(ctx);
  };

  it('checks before the server starts but posts nothing until the server listens', async () => {
    const api = await startStandInHubApi({ tokens: [TOKEN] });
    cleanup.push(() => api.close());
    const { ctx } = context({ JUPYTERHUB_API_URL: `http://127.0.0.1:${api.port}/hub/api`, JUPYTERHUB_API_TOKEN: TOKEN });
    const step = createPortReportStep(fast);
    await step.prepare(ctx);
    expect(api.requests).toHaveLength(0);
    await step.listening!(ctx);
    expect(api.reports.map((r) => r.body)).toEqual([{ port: 45678 }]);
  });

  it('a hub without the handler (404: no `import batchspawner`) fails at once and says what to add', async () => {
    const api = await startStandInHubApi({ tokens: [TOKEN] });
    cleanup.push(() => api.close());
    const { ctx } = context({ JUPYTERHUB_API_URL: `http://127.0.0.1:${api.port}/other/api`, JUPYTERHUB_API_TOKEN: TOKEN });
    const t0 = Date.now();
    await expect(report(createPortReportStep(fast), ctx)).rejects.toThrow(/HTTP 404.*add `import batchspawner` to jupyterhub_config\.py/);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(api.requests).toHaveLength(1);
  });

  it('an unreachable hub is retried until the deadline, then fails naming the URL and the last error', async () => {
    const { ctx, lines } = context({ JUPYTERHUB_API_URL: 'http://127.0.0.1:9/hub/api', JUPYTERHUB_API_TOKEN: TOKEN });
    const t0 = Date.now();
    await expect(report(createPortReportStep(fast), ctx)).rejects.toThrow(
      /could not report port 45678 to the hub at http:\/\/127\.0\.0\.1:9\/hub\/api\/batchspawner within 2 s \(\d+ attempts; last: connect ECONNREFUSED 127\.0\.0\.1:9\).*hub_connect_url/,
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_400);
    expect(lines.filter((l) => l.includes('ECONNREFUSED'))).toHaveLength(1); // said once, not per attempt
    expect(lines.join('\n')).not.toContain(TOKEN);
  });

  it('needs the API URL and token from the spawner env', async () => {
    await expect(createPortReportStep(fast).prepare(context({ JUPYTERHUB_API_TOKEN: TOKEN }).ctx)).rejects.toThrow(/JUPYTERHUB_API_URL is not set/);
    await expect(createPortReportStep(fast).prepare(context({ JUPYTERHUB_API_URL: 'http://127.0.0.1:9/hub/api' }).ctx)).rejects.toThrow(/JUPYTERHUB_API_TOKEN is not set/);
  });

  describe('https (JupyterHub internal_ssl: JUPYTERHUB_SSL_CERTFILE/KEYFILE/CLIENT_CA)', () => {
    let pki: ReturnType<typeof makePki>;
    beforeAll(() => {
      pki = makePki();
    });
    afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));

    const httpsHub = () => startHttpsHub(pki);

    it('posts with the client certificate and verifies the hub against CLIENT_CA', async () => {
      const hub = await httpsHub();
      const { ctx } = context({
        JUPYTERHUB_API_URL: `https://127.0.0.1:${hub.port}/hub/api`,
        JUPYTERHUB_API_TOKEN: TOKEN,
        JUPYTERHUB_SSL_CERTFILE: pki.clientCert,
        JUPYTERHUB_SSL_KEYFILE: pki.clientKey,
        JUPYTERHUB_SSL_CLIENT_CA: pki.caCert,
      });
      await report(createPortReportStep(fast), ctx);
      expect(hub.seen).toEqual([{ cn: 'user-alice', body: '{"port":45678}' }]);
    });

    it('a hub certificate the CA does not vouch for fails at once (no retry loop)', async () => {
      const hub = await httpsHub();
      const { ctx } = context({
        JUPYTERHUB_API_URL: `https://127.0.0.1:${hub.port}/hub/api`,
        JUPYTERHUB_API_TOKEN: TOKEN,
        JUPYTERHUB_SSL_CERTFILE: pki.clientCert,
        JUPYTERHUB_SSL_KEYFILE: pki.clientKey,
        JUPYTERHUB_SSL_CLIENT_CA: pki.otherCaCert,
      });
      const t0 = Date.now();
      await expect(report(createPortReportStep({ ...fast, deadlineMs: 10_000 }), ctx)).rejects.toThrow(/TLS to the hub at https:\/\/127\.0\.0\.1:\d+\/hub\/api\/batchspawner failed/);
      expect(Date.now() - t0).toBeLessThan(3_000);
      expect(hub.seen).toEqual([]);
    });
  });
});

// ---- the same report by the Python job launcher ------------------------------------------

describe("the Python launcher's port report (hpc-wrap.mjs run as a program, as batchspawner's job script runs it)", () => {
  let bundle: string;
  let ws: Workspace;
  let pki: ReturnType<typeof makePki>;
  beforeAll(async () => {
    bundle = await buildBundle(tempDir());
    ws = makeWorkspace(bundle);
    pki = makePki(); // openssl (.ci/run installs it)
  });
  afterAll(() => {
    ws.cleanup();
    rmSync(pki.dir, { recursive: true, force: true });
  });
  let n = 0;

  /** A plain job's run dir as startjob writes it for a ready script, and the job started. */
  function job(env: Record<string, string>) {
    const sessionId = `s-${String(++n).padStart(26, 'p')}`;
    const dir = join(ws.workDir, 'users', 'alice', 'sessions', sessionId);
    mkdirSync(join(dir, 'spool'), { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'spool', 'secrets.json'), JSON.stringify({ env: { JUPYTERHUB_SERVICE_PREFIX: '/user/alice/', ...env } }), { mode: 0o600 });
    const runtime = { perUser: false, jobIdVariable: 'HPC_WRAP_TEST_JOB_ID', logLevel: 'info', logFile: ws.logFile };
    const description = { version: 1, sessionId, user: 'alice', serverName: '', command: ['/bin/false'], home: null, jupyter: { bindAddress: '127.0.0.1', portRange: { start: 51000, end: 51100 } }, logFile: ws.logFile, runtime, createdAt: new Date().toISOString() };
    writeFileSync(join(dir, 'spool', 'job.json'), JSON.stringify(description), { mode: 0o600 });
    const { exited, output } = jobProcess(spawn(bundle, ['batchspawner-singleuser', process.execPath, STAND_IN_SERVER], { env: { ...process.env, HPC_WRAP_RUN_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] }));
    const status = (): { phase: string; message: string | null; port: number } => {
      try {
        return JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8'));
      } catch {
        return { phase: 'not yet written', message: null, port: 0 };
      }
    };
    return { exited, output, status };
  }

  it('posts {"port": P} once the server listens, then says listening; a hub without the handler (404) fails the job at once', async () => {
    const api = await startStandInHubApi({ tokens: [TOKEN] });
    cleanup.push(() => api.close());
    const ok = job({ JUPYTERHUB_API_URL: `http://127.0.0.1:${api.port}/hub/api`, JUPYTERHUB_API_TOKEN: TOKEN });
    const st = await waitFor(async () => (ok.status().phase === 'listening' ? ok.status() : null), 'listening');
    expect(api.reports.map((r) => r.raw)).toEqual([`{"port":${st.port}}`]);
    expect(ok.output()).toMatch(/\(by the Python launcher\)/);
    expect(ok.output()).toMatch(new RegExp(`the hub accepted port ${st.port} \\(HTTP 200\\)`));

    const missing = job({ JUPYTERHUB_API_URL: `http://127.0.0.1:${api.port}/other/api`, JUPYTERHUB_API_TOKEN: TOKEN });
    expect(await missing.exited).toBe(1);
    expect(missing.status()).toMatchObject({ phase: 'exited', message: expect.stringMatching(/HTTP 404.*add `import batchspawner` to jupyterhub_config\.py/) });
    expect(missing.output()).not.toContain(TOKEN);
  });

  it('needs the token before the server starts', async () => {
    const noToken = job({ JUPYTERHUB_API_URL: 'http://127.0.0.1:9/hub/api' });
    expect(await noToken.exited).toBe(1);
    expect(noToken.status()).toMatchObject({ phase: 'exited', message: expect.stringMatching(/JUPYTERHUB_API_TOKEN is not set/) });
    expect(noToken.output()).not.toMatch(/starting /);
  });

  it('https: posts with the client certificate, and a hub the CA does not vouch for fails at once', async () => {
    const hub = await startHttpsHub(pki);
    const tls = { JUPYTERHUB_API_URL: `https://127.0.0.1:${hub.port}/hub/api`, JUPYTERHUB_API_TOKEN: TOKEN, JUPYTERHUB_SSL_CERTFILE: pki.clientCert, JUPYTERHUB_SSL_KEYFILE: pki.clientKey };
    const good = job({ ...tls, JUPYTERHUB_SSL_CLIENT_CA: pki.caCert });
    const st = await waitFor(async () => (good.status().phase === 'listening' ? good.status() : null), 'listening');
    expect(hub.seen).toEqual([{ cn: 'user-alice', body: `{"port":${st.port}}` }]);

    const t0 = Date.now();
    const bad = job({ ...tls, JUPYTERHUB_SSL_CLIENT_CA: pki.otherCaCert });
    expect(await bad.exited).toBe(1);
    expect(Date.now() - t0).toBeLessThan(10_000); // no 30 s retry loop
    expect(bad.status().message).toMatch(/TLS to the hub at https:\/\/127\.0\.0\.1:\d+\/hub\/api\/batchspawner failed/);
    expect(hub.seen).toHaveLength(1);
  });
});

/** A hub API over https that asks for a client certificate (JupyterHub's internal_ssl). */
async function startHttpsHub(pki: ReturnType<typeof makePki>): Promise<{ port: number; seen: { cn: string | null; body: string }[] }> {
  const seen: { cn: string | null; body: string }[] = [];
  const server = createHttpsServer(
    { key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert), ca: readFileSync(pki.caCert), requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        seen.push({ cn: peer?.subject?.CN ? String(peer.subject.CN) : null, body });
        res.end('{"message":"BatchSpawner data configured"}');
      });
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise((r) => server.close(r)));
  return { port: (server.address() as AddressInfo).port, seen };
}

/** A CA, a hub certificate for 127.0.0.1 and a client certificate, like JupyterHub's internal_ssl makes. */
function makePki() {
  const dir = mkdtempSync(join(tmpdir(), 'port-report-pki-'));
  const p = (n: string) => join(dir, n);
  const ossl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ca = (name: string) => ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p(`${name}.key`), '-out', p(`${name}.crt`), '-days', '2', '-subj', `/CN=${name}`]);
  ca('ca');
  ca('other-ca');
  const leaf = (name: string, cn: string, ext: string) => {
    ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${cn}`]);
    writeFileSync(p(`${name}.ext`), ext);
    ossl(['x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p(`${name}.crt`), '-days', '2', '-extfile', p(`${name}.ext`)]);
  };
  leaf('server', 'hub-api', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'user-alice', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    caCert: p('ca.crt'),
    otherCaCert: p('other-ca.crt'),
    serverKey: p('server.key'),
    serverCert: p('server.crt'),
    clientKey: p('client.key'),
    clientCert: p('client.crt'),
  };
}
