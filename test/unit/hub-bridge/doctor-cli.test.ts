// `hpc-bridge doctor` as an operator runs it before JupyterHub exists: the real bundles
// (dist/hpc-bridge.mjs reaching dist/hpc-wrap.mjs through the local transport). Every FAIL
// makes the exit status 1; --cluster-only checks the cluster side alone; a hub that is not
// up is named as such; a scheduler that does not answer names scheduler.env, and so does
// `hpc-wrap doctor` (which also exits 1). The scheduler that does not answer is Debian's real
// `squeue` with no slurm.conf to find. An environment whose module Lmod (Debian's, real)
// finds only with a MODULEPATH the job does not get is a WARN naming modulePath.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

const REPO = resolve(import.meta.dirname, '../../..');
const BRIDGE = join(REPO, 'dist/hpc-bridge.mjs');
const WRAP = join(REPO, 'dist/hpc-wrap.mjs');
let dir: string;
let closedPort: number;

function run(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const env: NodeJS.ProcessEnv = { ...process.env, HPC_BRIDGE_CONFIG: '', HPC_WRAP_CONFIG: '' };
    delete env.SLURM_CONF;
    delete env.MODULEPATH; // as over SSH: no login shell set it
    execFile(process.execPath, argv, { timeout: 60_000, env, cwd: dir }, (err, stdout, stderr) =>
      res({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

/** A hub-bridge.yaml (state in `name/`) running the real hpc-wrap bundle with `hpc` as hpc-wrap.yaml. */
function site(name: string, hpc: object): { bridgeYaml: string; hpcYaml: string } {
  const d = join(dir, name);
  mkdirSync(d);
  const hpcYaml = join(d, 'hpc-wrap.yaml');
  writeFileSync(hpcYaml, stringify({ workDir: join(d, 'work'), ...hpc }));
  const bridgeYaml = join(d, 'hub-bridge.yaml');
  writeFileSync(
    bridgeYaml,
    stringify({
      apiTokenFile: join(d, 'state', 'api-token'),
      stateDb: join(d, 'state', 'bridge.sqlite'),
      hubApiUrl: `http://127.0.0.1:${closedPort}/hub/api`,
      cluster: { transport: { kind: 'local' }, hpcWrap: [process.execPath, WRAP, '--config', hpcYaml] },
    }),
  );
  return { bridgeYaml, hpcYaml };
}

beforeAll(async () => {
  for (const b of [BRIDGE, WRAP]) if (!existsSync(b)) throw new Error(`${b} is missing: run npm run build first`);
  dir = mkdtempSync(join(tmpdir(), 'doctor-cli-'));
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  closedPort = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r)); // nobody listens there: "JupyterHub is not up yet"
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hpc-bridge doctor before the hub is up', () => {
  it('--cluster-only passes on a healthy cluster side; the full doctor names the missing hub and exits 1', async () => {
    const { bridgeYaml } = site('healthy', { scheduler: { kind: 'fork' } });
    const only = await run([BRIDGE, '--config', bridgeYaml, 'doctor', '--cluster-only']);
    expect(only.code, only.stdout + only.stderr).toBe(0);
    expect(only.stdout).toMatch(/^ok {4}hpc-wrap version: \S+ on both sides$/m);
    expect(only.stdout).toMatch(/^ok {4}scheduler: fork answers/m);
    expect(only.stdout).not.toMatch(/JupyterHub API:/);
    expect(only.stdout).toContain('The cluster side checks out');

    const full = await run([BRIDGE, '--config', bridgeYaml, 'doctor']);
    expect(full.code).toBe(1);
    const url = `http://127.0.0.1:${closedPort}/hub/api`;
    expect(full.stdout).toContain(`FAIL  JupyterHub API: JupyterHub is not answering at ${url} (ECONNREFUSED)`);
    expect(full.stdout).toMatch(/fix: start JupyterHub .*hpc-bridge doctor --cluster-only/);
    expect(full.stdout).not.toMatch(/set hubApiUrl to .*8081/); // never "set it to" the value it already has
    // The token file is made by the first `serve`: not a failure before that.
    expect(full.stdout).toMatch(/^ok {4}API token file: .*api-token does not exist yet; hpc-bridge serve makes it \(mode 600\) on its first start$/m);
    expect(full.stdout).toContain('1 problem(s) found.');
  });

  it('a scheduler found only through SLURM_CONF: both doctors exit 1 and name scheduler.env', async () => {
    const { bridgeYaml, hpcYaml } = site('no-slurm-conf', { scheduler: { kind: 'slurm', submit: ['sbatch', '--parsable'], query: ['squeue'], cancel: ['scancel'] } });
    const wrap = await run([WRAP, '--config', hpcYaml, 'doctor']);
    expect(wrap.code).toBe(1);
    expect(JSON.parse(wrap.stdout).scheduler).toMatchObject({ name: 'slurm', reachable: false });
    expect(wrap.stderr).toMatch(/^hpc-wrap doctor: the scheduler \(slurm\) does not answer: squeue: fatal: Could not establish a configuration source; .*give it as scheduler\.env in hpc-wrap\.yaml$/m);
    expect(wrap.stderr).toContain('(e.g. SLURM_CONF)');

    const hub = await run([BRIDGE, '--config', bridgeYaml, 'doctor', '--cluster-only']);
    expect(hub.code).toBe(1);
    expect(hub.stdout).toMatch(/^ok {4}login node and hpc-wrap: /m); // hpc-wrap's exit 1 is its report, not a broken link
    expect(hub.stdout).toMatch(/^FAIL {2}scheduler: slurm does not answer: squeue: fatal: Could not establish a configuration source$/m);
    expect(hub.stdout).toContain('(e.g. SLURM_CONF), give it as scheduler.env in hpc-wrap.yaml');
  });

  it("an environment's module that a job's MODULEPATH lacks: WARN naming modulePath (exit 0); with modulePath: ok", async () => {
    const tree = join(dir, 'module-tree');
    mkdirSync(join(tree, 'python'), { recursive: true });
    writeFileSync(join(tree, 'python', '3.11.lua'), 'whatis("a module of this test")\n');
    const { bridgeYaml, hpcYaml } = site('modules', {
      scheduler: { kind: 'fork' },
      environments: { lab: { modules: { load: ['python/3.11'], modulePath: [tree] } }, bare: { modules: { load: ['python/3.11'] } } },
    });
    const r = await run([BRIDGE, '--config', bridgeYaml, 'doctor', '--cluster-only']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^WARN {2}modules: environment bare: Lmod on the login node does not find python\/3\.11 with a job's MODULEPATH \(empty\); a spawn there fails unless the compute nodes have it$/m);
    expect(r.stdout).toContain('note: add the directory that holds it to environments.bare.modules.modulePath in hpc-wrap.yaml');
    expect(r.stdout).toMatch(/^ok {4}modules: Lmod finds the modules of lab \(python\/3\.11\) with a job's MODULEPATH$/m);
    const wrap = JSON.parse((await run([WRAP, '--config', hpcYaml, 'doctor'])).stdout);
    expect(wrap.modules).toEqual([
      { environment: 'lab', modules: ['python/3.11'], missing: [], modulePath: tree, error: null },
      { environment: 'bare', modules: ['python/3.11'], missing: ['python/3.11'], modulePath: '', error: null },
    ]);
  });

  it('a broken link (hpc-wrap not where cluster.hpcWrap says) fails with exit 1 and the reason', async () => {
    const { bridgeYaml } = site('no-wrap', { scheduler: { kind: 'fork' } });
    const cfg = parse(readFileSync(bridgeYaml, 'utf8'));
    writeFileSync(bridgeYaml, stringify({ ...cfg, cluster: { transport: { kind: 'local' }, hpcWrap: [process.execPath, join(dir, 'nowhere/hpc-wrap.mjs')] } }));
    const r = await run([BRIDGE, '--config', bridgeYaml, 'doctor', '--cluster-only']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL {2}login node and hpc-wrap: hpc-wrap doctor failed \(exit 1\): Error: Cannot find module '.*nowhere\/hpc-wrap\.mjs'$/m);
  });
});
