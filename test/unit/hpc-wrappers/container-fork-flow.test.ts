// The whole fork flow with the built bundle and a container environment: startjob names
// the environment → the job runs start-env → the overlay is made → the Singularity TEST
// DOUBLE (first on PATH) records its argv and runs the server → it answers under the
// hub's prefix → killjob. An unknown environment is refused at submit with exit 2.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hpcWrapSchema, resourcesSchema } from '../../../config/schema.js';
import { chooseEnvironment } from '../../../hpc-wrappers/startjob/environment-choice.js';
import { pathWithDouble, readDoubleLog } from './support/container-env.js';
import { fsckStatus, hasE2fsprogs } from './support/e2fs.js';
import { buildBundle, makeWorkspace, startRequest, tempDir, TINY_SERVER, waitFor, type Workspace } from './support/hpc-wrap-bundle.js';

const SECRET = 'hub-token-c0ffee-5e17';
let bundle: string;
let ws: Workspace;
let doubleLog: string;
let env: NodeJS.ProcessEnv;
const started: string[] = [];

beforeAll(async () => {
  if (!hasE2fsprogs()) throw new Error('this test needs e2fsprogs (mkfs.ext3, e2fsck): apt-get install e2fsprogs');
  bundle = await buildBundle(tempDir());
  ws = makeWorkspace(bundle, {
    environments: {
      lab: { description: 'JupyterLab in a container', container: { image: 'images/compute.sif', home: '/home/jovyan' } },
      bare: { description: 'on the node' },
    },
    overlays: { enabled: true, sizeMiB: 64 },
  });
  mkdirSync(join(ws.dir, 'images'));
  writeFileSync(join(ws.dir, 'images', 'compute.sif'), 'stand-in image (the double only checks it exists)');
  doubleLog = join(ws.dir, 'double.log');
  env = { ...process.env, PATH: pathWithDouble(), CONTAINER_TEST_DOUBLE_LOG: doubleLog };
});
afterAll(async () => {
  for (const id of started) await ws.wrap.run(['killjob', id], { env });
  ws.cleanup();
});

/** Pids whose command line (as `ps` shows it) contains `text`. */
function cmdlinesContaining(text: string): number[] {
  const hits: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`).includes(text)) hits.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return hits;
}

interface ServerReport {
  phase: string;
  host: string | null;
  port: number | null;
  message: string | null;
}

describe('fork flow with a container environment', () => {
  it('runs the server in the container with the overlay; the server answers; no secret in argv', async () => {
    const req = startRequest({ environment: 'lab', env: { JUPYTERHUB_API_TOKEN: SECRET, JUPYTERHUB_SERVICE_PREFIX: '/user/alice/' }, command: [process.execPath, TINY_SERVER] });
    const r = await ws.wrap.run(['startjob'], { input: JSON.stringify(req), env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const { jobId, runDir } = r.json as { jobId: string; runDir: string };
    started.push(jobId);

    const server = await waitFor(async () => {
      const s = await ws.wrap.run(['jobstate', jobId], { env });
      const job = (s.json as { jobs: Record<string, { state: string; server: ServerReport | null }> }).jobs[jobId]!;
      if (job.state !== 'running' && job.state !== 'pending') throw new Error(`the job ended: ${readFileSync(join(runDir, 'output.log'), 'utf8')}`);
      return job.server?.phase === 'listening' ? job.server : null;
    }, 'the containerised server to listen');

    const res = await fetch(`http://${server.host}:${server.port}/user/alice/api`);
    const seen = (await res.json()) as Record<string, unknown>;
    expect(seen).toMatchObject({ path: '/user/alice/api', home: '/home/jovyan', prefix: '/user/alice/', hasToken: true, hpcWrapVars: [] });

    const home = join(ws.workDir, 'homes', 'alice');
    const overlay = join(ws.workDir, 'overlays', 'alice.img');
    const calls = readDoubleLog(doubleLog);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.argv).toEqual([
      'exec',
      '--home', `${home}:/home/jovyan`, '--pwd', '/home/jovyan',
      '--overlay', overlay,
      join(ws.dir, 'images', 'compute.sif'),
      process.execPath, TINY_SERVER,
    ]);
    expect(fsckStatus(overlay)).toBe(0);
    expect(existsSync(`${overlay}.lease`)).toBe(true); // held while the server runs

    // The secret is in no process's argv (ps), no recorded call, no job output, no spool file.
    expect(cmdlinesContaining(SECRET)).toEqual([]);
    expect(JSON.stringify(calls)).not.toContain(SECRET);
    expect(readFileSync(join(runDir, 'output.log'), 'utf8')).not.toContain(SECRET);
    expect(existsSync(join(runDir, 'spool', 'secrets.json'))).toBe(false);

    const kill = await ws.wrap.run(['killjob', jobId], { env });
    expect(kill.code).toBe(0);
    await waitFor(async () => !existsSync(`${overlay}.lease`), 'the overlay lease to be released');
  });

  it('refuses an unknown environment at submit (exit 2), naming the option and the known environments', async () => {
    const r = await ws.wrap.run(['startjob'], { input: JSON.stringify(startRequest({ environment: 'tensorflow' })), env });
    expect(r.code).toBe(2);
    expect(r.json).toEqual({
      error: { code: 'invalid', message: 'environment: "tensorflow" is not an environment of this cluster; known environments (hpc-wrap.yaml `environments`): lab, bare' },
    });
    const bad = await ws.wrap.run(['startjob'], { input: JSON.stringify(startRequest({ environment: '../x' })), env });
    expect(bad.code).toBe(2);
    expect((bad.json as { error: { message: string } }).error.message).toMatch(/environment: an environment name is 1-64 letters/);
  });
});

describe('choosing the environment at submit', () => {
  const cfg = hpcWrapSchema.parse({
    environments: { lab: { container: { image: '/i/c.sif' } }, bare: {} },
    defaultEnvironment: 'lab',
    overlays: { enabled: true, location: '/scratch/overlays' },
  });
  const req = { user: 'Zoë@uni', resources: null, script: null };

  it('null → defaultEnvironment; the overlay plan only for a container that wants it', () => {
    expect(chooseEnvironment(cfg, { ...req, environment: null })).toMatchObject({
      environment: { name: 'lab' },
      gpus: 0,
      overlay: { mode: 'auto', image: '/scratch/overlays/_5ao_c3_ab_40uni.img', sizeMiB: 2048, mkfs: ['mkfs.ext3'], fsck: ['e2fsck'] },
    });
    expect(chooseEnvironment(cfg, { ...req, environment: 'bare' })).toMatchObject({ environment: { name: 'bare' }, overlay: null });
    expect(chooseEnvironment({ ...cfg, defaultEnvironment: null }, { ...req, environment: null })).toEqual({ environment: null, gpus: 0, overlay: null });
  });

  it('GPUs: from resources; unknown (null) for a ready batch script', () => {
    expect(chooseEnvironment(cfg, { ...req, environment: 'lab', resources: resourcesSchema.parse({ gpus: 2 }) }).gpus).toBe(2);
    expect(chooseEnvironment(cfg, { ...req, environment: 'lab', script: '#!/bin/sh\n' }).gpus).toBeNull();
  });
});
