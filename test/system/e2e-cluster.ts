// The batch system under the end-to-end suite: a harness Slurm or a harness Grid Engine,
// seen through what the suite needs (the hpc-wrap scheduler section, the job list, a
// controller outage, a job that fills the node, the words of a queue reason).
import { join } from 'node:path';
import { startGridEngine, startSlurm, waitFor, type GridEngineCluster, type SlurmCluster } from './harness/index.js';

export type E2eSchedulerKind = 'slurm' | 'gridengine';

export interface E2eJob {
  id: string;
  state: string;
  user: string;
  name: string;
}

export interface E2eCluster {
  kind: E2eSchedulerKind;
  /** "Slurm", "Grid Engine" (test titles). */
  title: string;
  /** The daemon an outage stops ("slurmctld", "sge_qmaster"). */
  controller: string;
  /** `scheduler:` of hpc-wrap.yaml. */
  hpcWrapScheduler: Record<string, unknown>;
  /** resources of the hub's profile (its partition is the cluster's queue). */
  profileResources: Record<string, unknown>;
  jobs(): Promise<E2eJob[]>;
  isRunning(job: E2eJob): boolean;
  stopController(): Promise<void>;
  startController(): Promise<void>;
  /** A job of `user` that takes every slot/CPU, so that the next one waits. Returns its cancel. */
  fillNode(user: string): Promise<() => Promise<void>>;
  /** What the bridge's queued message says for a job waiting behind fillNode's. */
  queuedMessage: RegExp;
  stop(): Promise<void>;
}

function slurmCluster(slurm: SlurmCluster): E2eCluster {
  return {
    kind: 'slurm',
    title: 'Slurm',
    controller: 'slurmctld',
    hpcWrapScheduler: { kind: 'slurm', env: slurm.env, timeoutSeconds: 10 },
    profileResources: { partition: 'debug', cpus: 1, memoryMB: 256, walltime: '00:30:00' },
    jobs: () => slurm.squeue(),
    isRunning: (j) => j.state === 'RUNNING',
    stopController: () => slurm.stopController(),
    startController: () => slurm.startController(),
    async fillNode(user) {
      // 20 CPUs are declared
      const r = await slurm.run(['sbatch', '--parsable', '--cpus-per-task=20', '--mem=256M', '--job-name=blocker', '--wrap', 'sleep 600', '--output=/dev/null'], { user });
      if (r.code !== 0) throw new Error(`sbatch of the blocker failed: ${r.stderr}`);
      return async () => void (await slurm.run(['scancel', r.stdout.trim()], { user }));
    },
    queuedMessage: /^Waiting in the queue: (next in line|\d+ jobs? ahead) \((waiting for free resources \(Resources\)|other jobs have priority \(Priority\))\)/,
    stop: () => slurm.stop(),
  };
}

function gridEngineCluster(ge: GridEngineCluster): E2eCluster {
  return {
    kind: 'gridengine',
    title: 'Grid Engine',
    controller: 'sge_qmaster',
    hpcWrapScheduler: { kind: 'gridengine', env: ge.env, timeoutSeconds: 10 },
    profileResources: { partition: ge.queue, cpus: 1, memoryMB: 256, walltime: '00:30:00' },
    jobs: () => ge.jobs(),
    isRunning: (j) => j.state === 'r',
    stopController: () => ge.stopQmaster(),
    startController: () => ge.startQmaster(),
    async fillNode(user) {
      // every slot the running jobs leave free, and wait until it runs
      const free = ge.slots - (await ge.jobs()).filter((j) => j.state.includes('r')).reduce((n, j) => n + j.slots, 0);
      const r = await ge.run(['qsub', '-terse', '-b', 'y', '-N', 'blocker', '-o', '/dev/null', '-j', 'y', '-pe', ge.pe, String(free), 'sleep', '600'], { user });
      if (r.code !== 0) throw new Error(`qsub of the blocker failed: ${r.stderr}`);
      const id = r.stdout.trim();
      await waitFor(async () => (await ge.jobs()).some((j) => j.id === id && j.state === 'r'), { timeoutMs: 30_000, intervalMs: 250 });
      return async () => void (await ge.run(['qdel', id], { user }));
    },
    // The scheduler's own words, from qstat -j (schedd_job_info).
    queuedMessage: /^Waiting in the queue: (next in line|\d+ jobs? ahead) \(.*(full|dropped)/,
    stop: () => ge.stop(),
  };
}

/** Starts the batch system in `<dir>/<kind>` (dir must be searchable by other users). */
export async function startE2eCluster(kind: E2eSchedulerKind, dir: string): Promise<E2eCluster> {
  if (kind === 'gridengine') return gridEngineCluster(await startGridEngine({ dir: join(dir, 'gridengine') }));
  return slurmCluster(await startSlurm({ dir: join(dir, 'slurm') }));
}
