// The real stack a student meets, for the browser test: Debian's JupyterHub 3 with
// HpcBridgeSpawner and the bridge's own JupyterHub service (its sessions page, logged in
// through the hub), the bridge as its own process, hpc-wrap as the service account, a real
// one-node Slurm (20 CPUs declared; backfill every second so queued jobs get an estimate;
// partition limits enforced at submit, so sbatch refuses a job larger than the partition).
// For the admin page: a JupyterHub admin, and a user holding the admin scope through a role.
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ensureUser, freePorts, startHub, startSlurm, type Hub, type SlurmCluster, type UserInfo } from './harness/index.js';
import { REPO, startBridgeProcess, type BridgeProcess } from './bridge-process.js';

export const SERVICE_ACCOUNT = 'hpcbridge-svc';
export const SERVICE_NAME = 'hpc-bridge';
/** The admin page's scope (hubService.adminScope's default), its holder, and a JupyterHub admin. */
export const ADMIN_SCOPE = 'custom:hpc-bridge:admin';
export const SCOPE_ADMIN = 'tutor';
export const HUB_ADMIN = 'boss';

/** The choices students get; "gpu" names a partition the cluster does not have. */
export const PROFILES = [
  { name: 'small', displayName: 'Small', description: 'For exercises and reading.', resources: { partition: 'debug', cpus: 1, memoryMB: 256, walltime: '00:30:00' } },
  { name: 'two', displayName: 'Two CPUs', description: 'Two CPUs', resources: { partition: 'debug', cpus: 2, memoryMB: 512, walltime: '02:00:00' } },
  { name: 'huge', displayName: 'Huge (64 CPUs)', description: 'More CPUs than any node has.', resources: { partition: 'debug', cpus: 64, memoryMB: 512, walltime: '01:00:00' } },
  { name: 'gpu', displayName: 'GPU (1 GPU)', description: 'For deep learning.', resources: { partition: 'gpu', cpus: 4, memoryMB: 1024, gpus: 1, walltime: '04:00:00' } },
];

export interface StudentStack {
  dir: string;
  slurm: SlurmCluster;
  hub: Hub;
  bridge: BridgeProcess;
  /** Starts the bridge again (after a test killed it). */
  restartBridge(): Promise<BridgeProcess>;
  close(): Promise<void>;
}

export async function startStudentStack(): Promise<StudentStack> {
  const dir = mkdtempSync('/tmp/hpc-bridge-ui-');
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'bridge'), { mode: 0o700 });
  const svc = await ensureUser(SERVICE_ACCOUNT);
  const slurm = await startSlurm({ dir: join(dir, 'slurm'), extraConf: ['SchedulerParameters=bf_interval=1', 'EnforcePartLimits=ALL'] });
  let hub: Hub | null = null;
  try {
    return await startRest(dir, svc, slurm, (h) => (hub = h));
  } catch (err) {
    await (hub as Hub | null)?.stop().catch(() => {});
    await slurm.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function startRest(dir: string, svc: UserInfo, slurm: SlurmCluster, started: (hub: Hub) => void): Promise<StudentStack> {

  mkdirSync(join(dir, 'bin'), { mode: 0o755 });
  copyFileSync(join(REPO, 'dist/hpc-wrap.mjs'), join(dir, 'bin/hpc-wrap.mjs'));
  chmodSync(join(dir, 'bin/hpc-wrap.mjs'), 0o755);
  const workDir = join(dir, 'hpc');
  mkdirSync(workDir, { mode: 0o755 });
  chownSync(workDir, svc.uid, svc.gid);
  const hpcWrapConfig = join(dir, 'hpc-wrap.yaml');
  writeFileSync(hpcWrapConfig, stringify({ workDir, scheduler: { kind: 'slurm', env: slurm.env, timeoutSeconds: 10 }, job: { outputTailLines: 15 } }));

  const [bridgePort, servicePort] = await freePorts(2);
  const tokenFile = join(dir, 'bridge/token');
  // The hub service's api_token: the bridge reads this file, jupyterhub_config.py too.
  const serviceTokenFile = join(dir, 'bridge/service-token');
  writeFileSync(serviceTokenFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });

  const hub = await startHub({
    dir: join(dir, 'hub'),
    pythonPath: [join(REPO, 'hub-bridge/jupyterhub')],
    pollInterval: 5,
    startTimeout: 120,
    spawnerClassConfig: [
      "c.JupyterHub.spawner_class = 'hpc_bridge_spawner.HpcBridgeSpawner'",
      `c.HpcBridgeSpawner.bridge_url = 'http://127.0.0.1:${bridgePort}'`,
      `c.HpcBridgeSpawner.bridge_token_file = ${JSON.stringify(tokenFile)}`,
      `c.HpcBridgeSpawner.bridge_service_url = '/services/${SERVICE_NAME}/'`,
      'c.HpcBridgeSpawner.queue_refresh_interval = 2',
      "c.Spawner.cmd = ['/usr/bin/jupyterhub-singleuser']",
      // The bridge's pages as a hub service; students may use it (JupyterHub 3: a scope of the user role).
      // The service's logins may carry the admin page's custom scope (for those who hold it).
      `c.JupyterHub.services.append({'name': '${SERVICE_NAME}', 'url': 'http://127.0.0.1:${servicePort}', 'api_token': open(${JSON.stringify(serviceTokenFile)}).read().strip(), 'oauth_no_confirm': True, 'oauth_client_allowed_scopes': ['${ADMIN_SCOPE}']})`,
      `c.JupyterHub.load_roles.append({'name': 'user', 'scopes': ['self', 'access:services!service=${SERVICE_NAME}']})`,
      // The admin page: a JupyterHub admin, and a tutor who holds the admin scope through a role (docs/admin-page.md).
      `c.Authenticator.admin_users = {'${HUB_ADMIN}'}`,
      `c.JupyterHub.custom_scopes = {'${ADMIN_SCOPE}': {'description': 'See and stop every notebook session on the cluster (the HPC bridge admin page)'}}`,
      `c.JupyterHub.load_roles.append({'name': 'hpc-bridge-admins', 'scopes': ['${ADMIN_SCOPE}'], 'users': ['${SCOPE_ADMIN}']})`,
      // Users whose environment is broken: the server dies at once inside the job.
      'def _pre_spawn(spawner):',
      "    if spawner.user.name.startswith('broken'):",
      "        spawner.cmd = ['/usr/bin/python3', '-c', 'import sys; print(\"ModuleNotFoundError: No module named notebook\", file=sys.stderr); sys.exit(3)']",
      'c.Spawner.pre_spawn_hook = _pre_spawn',
    ].join('\n'),
  });
  started(hub);

  const bridgeConfig = join(dir, 'hub-bridge.yaml');
  writeFileSync(
    bridgeConfig,
    stringify({
      listen: { host: '127.0.0.1', port: bridgePort },
      apiTokenFile: tokenFile,
      stateDb: join(dir, 'bridge/bridge.sqlite'),
      cluster: { transport: { kind: 'local', runAs: SERVICE_ACCOUNT }, hpcWrap: ['/usr/bin/node', join(dir, 'bin/hpc-wrap.mjs'), '--config', hpcWrapConfig], commandTimeoutSeconds: 30 },
      status: { intervalSeconds: 2, startingIntervalSeconds: 0.5, probeTimeoutSeconds: 2 },
      hubApiUrl: `http://127.0.0.1:${hub.ports.hub}/hub/api`,
      profiles: PROFILES,
      profileCheck: { enabled: true, cacheSeconds: 60, waitSeconds: 10 },
      hubService: { enabled: true, name: SERVICE_NAME, listen: { host: '127.0.0.1', port: servicePort }, apiTokenFile: serviceTokenFile },
    }),
  );
  const start = () => startBridgeProcess({ config: bridgeConfig, port: bridgePort!, tokenFile });
  const stack: StudentStack = {
    dir,
    slurm,
    hub,
    bridge: await start(),
    async restartBridge() {
      stack.bridge = await start();
      return stack.bridge;
    },
    async close() {
      await hub.stop().catch(() => {});
      await stack.bridge.kill('SIGTERM').catch(() => {});
      await slurm.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}
