// Start-up cost of the bundles (issue 10 point 4): CPU (user + system) of
// `hpc-wrap --version`, `hpc-bridge --version`, a one-shot `hpc-wrap capabilities`, and
// start-env in a real fork job until it starts the server — with the user's code cache
// (what every call but a version's first pays; hpc-wrappers/code-cache.ts) and without it
// (HPC_WRAP_CODE_CACHE=off: the first call; a baseline without the cache ignores it) — for
// the bundles built from a baseline git ref (default `main`) and from this checkout,
// interleaved in one run, median of N runs, with the ratio. Not a test: it prints figures.
//   node --import tsx test/bench/startup-cost.ts [--baseline REF|DIR] [--runs N]
// start-env's figure is read by the server itself: the "server" is a python3 one-liner that
// sums its parent's utime+stime (/proc/PPID/stat) and its parent's other descendants' at its
// first instruction; also for a job with a tunnel (to an endpoint this benchmark runs).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { stopForkJobs } from '../support/fork-jobs.js';
import { startTestEndpoint, type TestEndpoint } from '../support/tunnel-endpoint.js';
import { table } from './bench-cluster.js';

const REPO = resolve(import.meta.dirname, '../..');
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim() || 100);

/**
 * Runs argv under python3 and returns the CPU ms of the process tree it waited for
 * (RUSAGE_CHILDREN, less what python's own start-up already waited for: a site hook may run
 * children before the script's first line).
 */
const RUSAGE = [
  'import resource, subprocess, sys',
  'r0 = resource.getrusage(resource.RUSAGE_CHILDREN)',
  'subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)',
  'r = resource.getrusage(resource.RUSAGE_CHILDREN)',
  'print(round((r.ru_utime + r.ru_stime - r0.ru_utime - r0.ru_stime) * 1000))',
].join('\n');
let benchCwd = tmpdir();
function cpuMs(argv: string[], env: NodeJS.ProcessEnv = process.env): number {
  return Number(execFileSync('python3', ['-c', RUSAGE, ...argv], { cwd: benchCwd, env }).toString().trim());
}
/** hpc-wrap without its code cache (hpc-wrappers/code-cache.ts): the first call of a version. */
const NO_CODE_CACHE = { ...process.env, HPC_WRAP_CODE_CACHE: 'off' };

/**
 * The "server": writes the CPU so far, in clock ticks, of its parent (start-env or the job
 * launcher) and of the parent's other descendants (the launcher's ssh client for a tunnel),
 * and exits.
 */
const REPORTER = [
  'import os, sys',
  'root, me, procs = os.getppid(), os.getpid(), {}',
  'for d in os.listdir("/proc"):',
  '    try:',
  '        f = open("/proc/%s/stat" % d).read().rsplit(")", 1)[1].split() if d.isdigit() else None',
  '    except OSError:',
  '        f = None',
  '    if f:',
  '        procs[int(d)] = (int(f[1]), int(f[11]) + int(f[12]))',
  'def under(p):',
  '    while p > 1 and p != root:',
  '        p = procs.get(p, (0, 0))[0]',
  '    return p == root',
  'open(sys.argv[1], "w").write(str(sum(t for p, (_, t) in procs.items() if p != me and under(p))))',
].join('\n');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** dist/ built from REF in a temp copy inside the repo (so node_modules resolves), or a given dist dir. */
function baselineDist(ref: string): { dist: string; cleanup: () => void } {
  if (existsSync(join(ref, 'hpc-wrap.mjs'))) return { dist: resolve(ref), cleanup: () => {} };
  const dir = mkdtempSync(join(REPO, '.bench-baseline-'));
  const tar = execFileSync('git', ['-C', REPO, 'archive', '--format=tar', ref], { maxBuffer: 512 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: dir, stdio: 'inherit' });
  return { dist: join(dir, 'dist'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function startEnvCpuMs(hpcWrap: string, work: string, n: number, env: NodeJS.ProcessEnv = process.env, tunnel?: TestEndpoint): Promise<number> {
  const config = join(work, 'hpc-wrap.yaml');
  writeFileSync(config, stringify({ workDir: join(work, 'hpc'), scheduler: { kind: 'fork' } }));
  const out = join(work, `cpu-${n}`);
  const s = tunnel ? await tunnel.session() : null;
  const sessionId = s?.sessionId ?? `s-${String.fromCharCode(97 + (n % 26)).repeat(13)}${'b'.repeat(13)}`;
  const req = {
    version: 1,
    sessionId,
    user: 'bench',
    env: { JUPYTERHUB_API_TOKEN: 'bench-token-0123456789', JUPYTERHUB_API_URL: 'http://127.0.0.1:8081/hub/api' },
    command: ['python3', '-c', REPORTER, out],
    ...(s ? { tunnel: { ...s.spec, privateKey: s.grant.privateKey } } : {}),
  };
  execFileSync(process.execPath, [hpcWrap, '--config', config, 'startjob'], { input: JSON.stringify(req), env });
  for (let i = 0; i < 600 && !existsSync(out); i++) await sleep(50);
  await sleep(50);
  const ticks = Number(readFileSync(out, 'utf8'));
  await stopForkJobs(join(work, 'hpc'));
  if (s) tunnel!.tunnels.end(s.sessionId);
  return ticks * TICK_MS;
}

function procCpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop()!.trim().split(/\s+/);
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

/** CPU per jobstate request through a running agent (its own CPU over 50 requests, after a warm-up). */
export async function agentJobstateCpuMs(hpcWrap: string, work: string): Promise<number> {
  const child = spawn(process.execPath, [hpcWrap, 'agent'], { stdio: ['pipe', 'pipe', 'ignore'], cwd: work });
  let buf = '';
  const waiters: Array<() => void> = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      buf = buf.slice(nl + 1);
      waiters.shift()?.();
    }
  });
  const frame = () => new Promise<void>((r) => waiters.push(r));
  await frame(); // hello
  const ask = async (id: number) => {
    const got = frame();
    child.stdin.write(`${JSON.stringify({ type: 'request', id, op: 'jobstate', stdin: JSON.stringify({ version: 1, jobs: [] }) })}\n`);
    await got;
  };
  for (let i = 0; i < 10; i++) await ask(i);
  const before = procCpuMs(child.pid!);
  for (let i = 0; i < 50; i++) await ask(100 + i);
  const per = (procCpuMs(child.pid!) - before) / 50;
  child.stdin.end();
  await new Promise((r) => child.once('close', r));
  return per;
}

export async function startupCost(argv: string[] = []): Promise<void> {
  const ref = argv[argv.indexOf('--baseline') + 1] && argv.includes('--baseline') ? argv[argv.indexOf('--baseline') + 1]! : 'main';
  const runs = argv.includes('--runs') ? Number(argv[argv.indexOf('--runs') + 1]) : 7;
  if (!existsSync(join(REPO, 'dist/hpc-wrap.mjs'))) throw new Error('run `npm run build` first');
  const base = baselineDist(ref);
  const work = mkdtempSync(join(tmpdir(), 'startup-bench-'));
  benchCwd = work;
  // the bridge's tunnel endpoint (this checkout's) for the jobs with a tunnel
  const endpoint = await startTestEndpoint({ apiPort: 8081 });
  try {
    const sides = { before: base.dist, after: join(REPO, 'dist') };
    const cases: Array<{ name: string; run: (dist: string, i: number, side: string) => Promise<number> }> = [
      { name: 'node -e 0 (Node itself)', run: async () => cpuMs([process.execPath, '-e', '0']) },
      { name: 'hpc-wrap --version', run: async (d) => cpuMs([process.execPath, join(d, 'hpc-wrap.mjs'), '--version']) },
      { name: 'hpc-bridge --version', run: async (d) => cpuMs([process.execPath, join(d, 'hpc-bridge.mjs'), '--version']) },
      { name: 'hpc-wrap capabilities (one-shot)', run: async (d) => cpuMs([process.execPath, join(d, 'hpc-wrap.mjs'), 'capabilities']) },
      { name: 'hpc-wrap capabilities, no code cache', run: async (d) => cpuMs([process.execPath, join(d, 'hpc-wrap.mjs'), 'capabilities'], NO_CODE_CACHE) },
      { name: 'hpc-wrap jobstate (one-shot; a status tick before the agent)', run: async (d) => cpuMs([process.execPath, join(d, 'hpc-wrap.mjs'), 'jobstate', 'fork-999999']) },
      {
        name: 'jobstate through the agent (per request; "before": none)',
        run: async (d, _i, side) => (side === 'before' ? NaN : agentJobstateCpuMs(join(d, 'hpc-wrap.mjs'), work)),
      },
      {
        name: 'start-env until the server starts',
        run: async (d, i, side) => {
          const w = join(work, `${side}-${i}`);
          mkdirSync(w, { recursive: true });
          return startEnvCpuMs(join(d, 'hpc-wrap.mjs'), w, i);
        },
      },
      {
        name: 'start-env until the server starts, no code cache',
        run: async (d, i, side) => {
          const w = join(work, `${side}-nocache-${i}`);
          mkdirSync(w, { recursive: true });
          return startEnvCpuMs(join(d, 'hpc-wrap.mjs'), w, i, NO_CODE_CACHE);
        },
      },
      {
        name: 'the same for a job with a tunnel (its ssh client included)',
        run: async (d, i, side) => {
          const w = join(work, `${side}-tunnel-${i}`);
          mkdirSync(w, { recursive: true });
          return startEnvCpuMs(join(d, 'hpc-wrap.mjs'), w, i, process.env, endpoint);
        },
      },
    ];
    const rows: (string | number)[][] = [['CPU ms (median of ' + runs + ')', `before (${ref})`, 'after', 'after/before']];
    for (const c of cases) {
      const got: Record<string, number[]> = { before: [], after: [] };
      for (let i = 0; i < runs; i++) {
        for (const side of i % 2 ? (['after', 'before'] as const) : (['before', 'after'] as const)) got[side]!.push(await c.run(sides[side], i, side));
      }
      const b = median(got.before!);
      const a = median(got.after!);
      const fmt = (v: number) => (Number.isNaN(v) ? '-' : v < 10 ? v.toFixed(1) : Math.round(v));
      rows.push([c.name, fmt(b), fmt(a), Number.isNaN(b) ? '-' : (a / b).toFixed(2)]);
    }
    console.log(`\nStart-up cost (CPU of the process tree; start-env: its own CPU when it spawns the server; ${TICK_MS} ms resolution there)`);
    console.log(table(rows));
  } finally {
    await endpoint.close();
    rmSync(work, { recursive: true, force: true });
    base.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await startupCost(process.argv.slice(2));
