// hpc-wrap on its own against a real Slurm (the harness cluster): sbatch, squeue + the
// run dir's status.json, scancel. Jobs run as the invoking user (root here).
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, makeWorkspace, startRequest, tempDir, TINY_SERVER, waitFor, type Workspace } from '../unit/hpc-wrappers/support/hpc-wrap-bundle.js';
import { startSlurm, type SlurmCluster } from './harness/index.js';

let slurm: SlurmCluster;
let ws: Workspace;
const jobs: string[] = [];

beforeAll(async () => {
  slurm = await startSlurm({ dir: join(mkdtempSync('/tmp/hw-slurm-'), 'slurm') });
  ws = makeWorkspace(await buildBundle(tempDir()), {
    scheduler: { kind: 'slurm', env: slurm.env, timeoutSeconds: 20 },
  });
}, 120_000);
afterAll(async () => {
  for (const id of jobs) await ws?.wrap.run(['killjob', id]);
  ws?.cleanup();
  await slurm?.stop();
}, 60_000);

type Report = { state: string; node: string | null; position: number | null; reason: string | null; server: { phase: string; host: string; port: number } | null; outputTail: string | null };
async function state(id: string): Promise<Report> {
  const r = await ws.wrap.run(['jobstate', id]);
  return (r.json as { jobs: Record<string, Report> }).jobs[id]!;
}

describe('real Slurm', () => {
  it('submits with sbatch, sees the server listening through squeue + status.json, cancels with scancel', async () => {
    const r = await ws.wrap.run(['startjob'], { input: JSON.stringify(startRequest({ resources: { cpus: 1, memoryMB: 256, walltime: '00:05:00' } })) });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const { jobId } = r.json as { jobId: string };
    jobs.push(jobId);
    expect(jobId).toMatch(/^\d+$/);
    const up = await waitFor(async () => {
      const s = await state(jobId);
      return s.state === 'running' && s.server?.phase === 'listening' ? s : null;
    }, 'the job to run and listen', 60_000);
    expect(up.node).toBeTruthy();
    const res = await fetch(`http://${up.server!.host}:${up.server!.port}/user/alice/`);
    expect(res.status).toBe(200);
    expect((await ws.wrap.run(['killjob', jobId])).json).toEqual({ jobId, cancelled: true });
    const end = await waitFor(async () => {
      const s = await state(jobId);
      return s.state === 'cancelled' || s.state === 'done' ? s : null;
    }, 'the job to end', 60_000);
    expect(end.state).toBe('cancelled');
    expect(end.outputTail).toContain('CANCELLED');
  }, 120_000);

  it('hpc-wrap accounting says that this Slurm keeps no accounting (no slurmdbd), without failing', async () => {
    const r = await ws.wrap.run(['accounting', ...(jobs.length ? jobs : ['1'])]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toEqual({ scheduler: { name: 'slurm', available: false, reachable: true, error: expect.stringMatching(/accounting storage is disabled/) }, jobs: {} });
  });

  it("runs a ready batchspawner-style script whose #SBATCH --export list would drop hpc-wrap's run dir", async () => {
    // batchspawner's default Slurm template exports only its keepvars
    const script = [
      '#!/bin/bash',
      '#SBATCH --export=JUPYTERHUB_API_TOKEN,JUPYTERHUB_USER',
      '#SBATCH --get-user-env=L',
      'set -euo pipefail',
      `${process.execPath} ${ws.wrap.bundle}${ws.wrap.configPath ? ` --config ${ws.wrap.configPath}` : ''} start-env -- ${process.execPath} ${TINY_SERVER}`,
      '',
    ].join('\n');
    const r = await ws.wrap.run(['startjob'], { input: JSON.stringify(startRequest({ resources: null, script })) });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const { jobId } = r.json as { jobId: string };
    jobs.push(jobId);
    const up = await waitFor(async () => {
      const s = await state(jobId);
      if (s.state === 'failed' || s.state === 'done') throw new Error(`job ended: ${s.outputTail}`);
      return s.state === 'running' && s.server?.phase === 'listening' ? s : null;
    }, 'the ready script to run and listen', 60_000);
    expect(up.server!.port).toBeGreaterThan(0);
  }, 120_000);
});
