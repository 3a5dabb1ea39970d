// The launch gateway, measured side by side in one run (nothing here passes or fails):
//  1. requests/s and latency of GET /api/status on Debian's real `jupyter notebook`, straight
//     to the notebook (HTTP, token header) vs. through the gateway (HTTPS, session cookie);
//  2. 500 routes registered at once with the real `hpc-wrap launch-jobs` on the harness
//     Slurm (500 held jobs), vs. the same registrations checked one scheduler call each;
//  3. the label lookup: a hit, a near miss, a miss and a malformed label, 500 routes.
// Run: npm run build && node --import tsx test/bench/gateway.ts [lookups|throughput|registrations]   (root: real Slurm)
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadHubBridgeConfig } from '../../config/load.js';
import { formatComment, jupyterToken, randomLabel, randomSecret, secretHash, TOKEN_PARAM } from '../../contract/launch.js';
import { HpcWrapLaunchJobs } from '../../hub-bridge/gateway/cluster-jobs.js';
import { startGateway } from '../../hub-bridge/gateway/gateway.js';
import { RouteTable } from '../../hub-bridge/gateway/route-table.js';
import { LocalTransport } from '../../hub-bridge/transport/local-transport.js';
import { freePort, startSlurm, waitFor } from '../system/harness/index.js';
import { gatewayFixture, httpsTo, ScriptedJobs, selfSignedCert } from '../support/gateway-fixture.js';
import { percentile, REPO, slurmAvailable, table } from './bench-cluster.js';

const fmt = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');

const LOAD = join(REPO, 'test/bench/http-load.mjs');

/** `concurrency` clients in their own process, each sending requests back to back for `ms`. */
function load(o: { url: string; host?: string; servername?: string; headers: Record<string, string>; ca?: string; concurrency: number; ms: number }): Promise<{ rps: number; lat: number[]; errors: number }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [LOAD, JSON.stringify(o)], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      if (err) return reject(err);
      const r = JSON.parse(stdout) as { count: number; seconds: number; lat: number[]; errors: number };
      resolve({ rps: r.count / r.seconds, lat: r.lat, errors: r.errors });
    });
  });
}

function getStatus(opts: Record<string, unknown>): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = httpRequest(opts, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    r.on('error', reject);
    r.end();
  });
}

async function throughput(): Promise<void> {
  const dir = mkdtempSync('/tmp/gw-bench-');
  const port = await freePort();
  const secret = randomSecret();
  const token = jupyterToken(secret);
  const cfgDir = join(dir, 'jupyter');
  mkdirSync(cfgDir);
  writeFileSync(join(cfgDir, 'jupyter_notebook_config.json'), JSON.stringify({ NotebookApp: { token, ip: '127.0.0.1', port, open_browser: false, allow_remote_access: true, notebook_dir: dir, allow_root: true } }), { mode: 0o600 });
  const nb: ChildProcess = spawn('jupyter', ['notebook'], { env: { ...process.env, JUPYTER_CONFIG_DIR: cfgDir }, stdio: 'ignore', cwd: dir });
  const jobs = new ScriptedJobs();
  const fx = await gatewayFixture({ nodes: { addresses: { bench: '127.0.0.1' } }, pollIntervalSeconds: 5 }, { jobs });
  try {
    await waitFor(async () => (await getStatus({ host: '127.0.0.1', port, path: '/api/status', headers: { authorization: `token ${token}` } }).catch(() => 0)) === 200, { timeoutMs: 60_000, intervalMs: 200 });
    const ca = readFileSync(fx.cert, 'utf8');
    const gwHost = `gw.test:${fx.gateway.port}`;
    const oneTime = randomSecret();
    jobs.set('1', { user: 'bench', state: 'running', node: 'bench', comment: formatComment(secretHash(secret), port) });
    const reg = await httpsTo(fx.gateway.port, ca, { host: gwHost, path: '/_hpcwrap/v1/routes', method: 'POST', body: JSON.stringify({ version: 1, jobId: '1', secret, tokenHash: secretHash(oneTime) }) });
    const { label } = JSON.parse(reg.body) as { label: string };
    const host = `${label}.${gwHost}`;
    const redeemed = await httpsTo(fx.gateway.port, ca, { host, path: `/?${TOKEN_PARAM}=${oneTime}` });
    const cookie = String(redeemed.headers['set-cookie']).split(';')[0]!;
    await waitFor(async () => Boolean(fx.gateway.table.find(label)?.live.ready), { timeoutMs: 30_000, intervalMs: 100 });

    const direct = { url: `http://127.0.0.1:${port}/api/status`, headers: { authorization: `token ${token}` } };
    const viaGateway = { url: `https://127.0.0.1:${fx.gateway.port}/api/status`, host, servername: `${label}.gw.test`, headers: { cookie }, ca: fx.cert };
    const rows: (string | number)[][] = [['GET /api/status, 8 clients, 5 s each', 'req/s', 'p50 ms', 'p99 ms', 'errors']];
    await load({ ...direct, concurrency: 4, ms: 1000 }); // warm-up
    await load({ ...viaGateway, concurrency: 4, ms: 1000 });
    const d = await load({ ...direct, concurrency: 8, ms: 5000 });
    const g = await load({ ...viaGateway, concurrency: 8, ms: 5000 });
    rows.push(['straight to the notebook (HTTP, token)', fmt(d.rps, 0), fmt(percentile(d.lat, 50)), fmt(percentile(d.lat, 99)), d.errors]);
    rows.push(['through the gateway (HTTPS, cookie)', fmt(g.rps, 0), fmt(percentile(g.lat, 50)), fmt(percentile(g.lat, 99)), g.errors]);
    rows.push(['ratio gateway / direct', `${fmt(g.rps / d.rps)}x`, `${fmt(percentile(g.lat, 50) / percentile(d.lat, 50))}x`, `${fmt(percentile(g.lat, 99) / percentile(d.lat, 99))}x`, '']);
    console.log(`\nThe gateway in front of Debian's jupyter notebook 6.4 (one machine; TLS terminated by the gateway)\n${table(rows)}`);
  } finally {
    nb.kill('SIGTERM');
    await fx.close();
  }
}

async function registrations(n = 500, baselineN = 40): Promise<void> {
  if (!slurmAvailable()) {
    console.log('\n500 registrations: skipped (needs root and Slurm for the real hpc-wrap launch-jobs)');
    return;
  }
  const dir = mkdtempSync('/tmp/gwr-');
  const slurm = await startSlurm({ dir: join(dir, 'slurm') });
  const siteCfg = join(dir, 'hpc-wrap.yaml');
  writeFileSync(siteCfg, stringify({ workDir: join(dir, 'work'), scheduler: { kind: 'slurm', env: slurm.env, timeoutSeconds: 60 } }));
  const secrets: { jobId: string; secret: string }[] = [];
  try {
    // n + baselineN held launch jobs (they never run), submitted 8 at a time.
    const total = n + baselineN;
    for (let i = 0; i < total; i += 8) {
      await Promise.all(
        Array.from({ length: Math.min(8, total - i) }, async () => {
          const secret = randomSecret();
          const r = await slurm.run(['sbatch', '--parsable', '--hold', `--comment=${formatComment(secretHash(secret))}`, '--output=/dev/null', '--wrap', 'true']);
          if (r.code !== 0) throw new Error(`sbatch: ${r.stderr}`);
          secrets.push({ jobId: r.stdout.trim(), secret });
        }),
      );
    }
    const hpcWrap = [process.execPath, join(REPO, 'dist/hpc-wrap.mjs'), '--config', siteCfg];
    const run = async (items: typeof secrets, checker: { windowMs: number; batchSize: number } | undefined) => {
      const gdir = mkdtempSync(join(dir, 'gw-'));
      const { cert, key } = selfSignedCert(gdir);
      const file = join(gdir, 'hub-bridge.yaml');
      writeFileSync(file, stringify({ cluster: { hpcWrap }, gateway: { listen: { host: '127.0.0.1', port: 0 }, tls: { certFile: cert, keyFile: key }, domain: 'gw.test', stateDir: join(gdir, 'state'), pollIntervalSeconds: 600, registration: { maxRoutesPerUser: 10_000 } } }));
      const jobs = new HpcWrapLaunchJobs(new LocalTransport({ runAs: null }), hpcWrap, 120_000);
      const gw = await startGateway(loadHubBridgeConfig(file), { jobs, checker });
      const ca = readFileSync(cert, 'utf8');
      const rss0 = process.memoryUsage().rss;
      const t0 = performance.now();
      const lat: number[] = [];
      const statuses = await Promise.all(
        items.map(async ({ jobId, secret }) => {
          const s = performance.now();
          const r = await httpsTo(gw.port, ca, { host: `gw.test:${gw.port}`, path: '/_hpcwrap/v1/routes', method: 'POST', body: JSON.stringify({ version: 1, jobId, secret, tokenHash: secretHash(randomSecret()) }) });
          lat.push(performance.now() - s);
          return r.status;
        }),
      );
      const wall = performance.now() - t0;
      const rss = process.memoryUsage().rss - rss0;
      await gw.close();
      lat.sort((a, b) => a - b);
      return { wall, lat, ok: statuses.filter((s) => s === 201).length, calls: jobs.calls, rss };
    };
    const batched = await run(secrets.slice(0, n), undefined);
    const single = await run(secrets.slice(n), { windowMs: 0, batchSize: 1 });
    const rows: (string | number)[][] = [['', 'routes', 'issued', 'launch-jobs calls', 'wall s', 'per route ms', 'p50 ms', 'p99 ms']];
    rows.push([`${n} at once, batched checks`, n, batched.ok, batched.calls, fmt(batched.wall / 1000), fmt(batched.wall / n), fmt(percentile(batched.lat, 50), 0), fmt(percentile(batched.lat, 99), 0)]);
    rows.push([`${baselineN} at once, one check each (baseline)`, baselineN, single.ok, single.calls, fmt(single.wall / 1000), fmt(single.wall / baselineN), fmt(percentile(single.lat, 50), 0), fmt(percentile(single.lat, 99), 0)]);
    rows.push(['ratio per route (baseline / batched)', '', '', `${fmt(single.calls / baselineN / (batched.calls / n), 0)}x fewer`, '', `${fmt(single.wall / baselineN / (batched.wall / n), 0)}x`, '', '']);
    console.log(`\nRoutes registered at once through the real hpc-wrap launch-jobs on the harness Slurm (held jobs)\n${table(rows)}\n(gateway RSS growth for ${n} routes: ${fmt(batched.rss / 1024 / 1024, 1)} MiB)`);
  } finally {
    await slurm.stop();
  }
}

function lookups(routes = 500, iterations = 50_000): void {
  const t = new RouteTable();
  const labels = Array.from({ length: routes }, () => randomLabel());
  for (const label of labels) t.add({ label, owner: 'u', secretHash: secretHash(label), jupyterToken: 'j', tokenHash: null, cookieHashes: [], jobId: '1', createdAt: '', tunnelPort: null, tunnelPublicKey: null });
  const hit = labels[250]!;
  const near = `${hit.slice(0, 25)}${hit.endsWith('a') ? 'b' : 'a'}`;
  const miss = randomLabel();
  const malformed = 'not-a-label';
  const time = (label: string) => {
    for (let i = 0; i < 2_000; i++) t.find(label);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) t.find(label);
    return Number(process.hrtime.bigint() - t0) / iterations;
  };
  // interleaved rounds, so drift of the machine touches every case alike
  const cases = { hit, 'near miss (25 of 26 chars)': near, miss, 'malformed (not 26 base32)': malformed } as Record<string, string>;
  const sums = Object.fromEntries(Object.keys(cases).map((k) => [k, 0])) as Record<string, number>;
  // many short rounds in rotating order; the median of each case's rounds (a busy machine adds spikes)
  const entries = Object.entries(cases);
  const rounds = Object.fromEntries(entries.map(([k]) => [k, [] as number[]]));
  for (let round = 0; round < 24; round++) {
    for (let i = 0; i < entries.length; i++) {
      const [k, v] = entries[(i + round) % entries.length]!;
      rounds[k]!.push(time(v));
    }
  }
  for (const [k, list] of Object.entries(rounds)) sums[k] = list.sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
  const rows: (string | number)[][] = [['label lookup, 500 routes (median of 24 rounds)', 'ns/lookup', 'ratio to hit']];
  for (const [k, v] of Object.entries(sums)) rows.push([k, fmt(v, 0), fmt(v / sums.hit!)]);
  console.log(`\n${table(rows)}`);
}

/** All three, or those named (lookups, throughput, registrations). */
export async function gatewayBench(parts: string[] = []): Promise<void> {
  const want = (p: string) => parts.length === 0 || parts.includes(p);
  if (want('lookups')) lookups();
  if (want('throughput')) await throughput();
  if (want('registrations')) await registrations();
}

if (import.meta.url === `file://${process.argv[1]}`) await gatewayBench(process.argv.slice(2));
