// Against a REAL Slurm, when one is given: HPC_WRAP_TEST_SLURM_CONF=/path/slurm.conf
// (e.g. the system-test harness cluster, or one started as in test-environment.md).
// Jobs run as the invoking user, so the workspace must be writable by it on the node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, makeWorkspace, startRequest, tempDir, waitFor, type Workspace } from './support/hpc-wrap-bundle.js';

const SLURM_CONF = process.env.HPC_WRAP_TEST_SLURM_CONF;
let ws: Workspace;
const jobs: string[] = [];

beforeAll(async () => {
  if (!SLURM_CONF) return;
  ws = makeWorkspace(await buildBundle(tempDir()), {
    scheduler: { kind: 'slurm', env: { SLURM_CONF }, timeoutSeconds: 20 },
  });
});
afterAll(async () => {
  if (!SLURM_CONF) return;
  for (const id of jobs) await ws.wrap.run(['killjob', id]);
  ws.cleanup();
});

type Report = { state: string; node: string | null; position: number | null; reason: string | null; server: { phase: string; host: string; port: number } | null; outputTail: string | null };
async function state(id: string): Promise<Report> {
  const r = await ws.wrap.run(['jobstate', id]);
  return (r.json as { jobs: Record<string, Report> }).jobs[id]!;
}

describe.skipIf(!SLURM_CONF)('real Slurm', () => {
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
});
