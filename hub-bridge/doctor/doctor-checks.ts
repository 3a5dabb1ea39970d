// `hpc-bridge doctor`: checks each link of the chain and says what to fix. Each check is a
// small function returning a result; nothing here changes anything.
import { existsSync, statSync } from 'node:fs';
import { writableOrCreatable } from '../../config/writable-path.js';
import { dirname } from 'node:path';
import type { HubBridgeConfig } from '../../config/schema.js';
import type { HpcWrapClient } from '../cluster/hpc-wrap-client.js';
import { VERSION } from '../version.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
  /** ok, but the operator must know (printed as WARN). */
  warning?: boolean;
}

const pass = (name: string, detail: string): CheckResult => ({ name, ok: true, detail });
const fail = (name: string, detail: string, fix: string): CheckResult => ({ name, ok: false, detail, fix });

export function checkTokenFile(cfg: HubBridgeConfig): CheckResult {
  const name = 'API token file';
  if (!existsSync(cfg.apiTokenFile)) return fail(name, `${cfg.apiTokenFile} does not exist`, 'start the bridge once (it creates it) or write a long random token there, mode 0600');
  const mode = statSync(cfg.apiTokenFile).mode & 0o777;
  if (mode & 0o077) return fail(name, `${cfg.apiTokenFile} has mode ${mode.toString(8)}`, `chmod 600 ${cfg.apiTokenFile}`);
  return pass(name, `${cfg.apiTokenFile} (mode 600)`);
}

export function checkStateDb(cfg: HubBridgeConfig): CheckResult {
  const name = 'state database';
  const w = writableOrCreatable(cfg.stateDb);
  if (w.ok) return pass(name, w.checked === cfg.stateDb ? `${cfg.stateDb} is writable` : `${cfg.stateDb} will be created (${w.checked} is writable)`);
  return fail(name, `${w.checked}: ${w.error}`, `make ${dirname(cfg.stateDb)} writable by the account that runs hpc-bridge`);
}

export interface RemoteCheck {
  version: string;
  workDir: { path: string; writable: boolean; error: string | null };
  scheduler: { name: string; batchSystem: boolean; reachable: boolean; error: string | null };
  maintenance: boolean;
}

/** hpc-wrap on the login node: reachable, same version, work dir, scheduler. */
export async function checkCluster(client: HpcWrapClient, cfg: HubBridgeConfig): Promise<CheckResult[]> {
  let remote: RemoteCheck;
  try {
    remote = (await client.doctor()) as RemoteCheck;
  } catch (err) {
    return [fail('login node and hpc-wrap', (err as Error).message, 'fix the transport (cluster.transport) or cluster.hpcWrap; the message above says which link failed')];
  }
  const out: CheckResult[] = [pass('login node and hpc-wrap', `${client.description} answers`)];
  out.push(
    remote.version === VERSION
      ? pass('hpc-wrap version', `${remote.version} on both sides`)
      : fail('hpc-wrap version', `hpc-wrap ${remote.version} on the cluster, hpc-bridge ${VERSION} here`, 'install the same version on both sides (hpc-bridge deploy)'),
  );
  out.push(
    remote.workDir.writable
      ? pass('HPC work dir', `${remote.workDir.path} is writable`)
      : fail('HPC work dir', `${remote.workDir.path}: ${remote.workDir.error}`, 'create workDir (hpc-wrap.yaml) writable by the service account'),
  );
  out.push(
    remote.scheduler.reachable
      ? pass('scheduler', `${remote.scheduler.name} answers${remote.scheduler.batchSystem ? '' : ' (not a batch system: jobs run as local processes)'}`)
      : fail('scheduler', `${remote.scheduler.name}: ${remote.scheduler.error}`, 'check that the scheduler commands in hpc-wrap.yaml work for the service account'),
  );
  out.push(await checkIdentity(cfg, client));
  if (remote.maintenance) out.push(fail('maintenance', 'the cluster side is in maintenance mode: new spawns are refused', 'set maintenance.enabled: false in hpc-wrap.yaml when done'));
  return out;
}

/** Both sides agree on who runs the jobs; `shared` is said plainly every time (docs/identity.md). */
export async function checkIdentity(cfg: HubBridgeConfig, client: HpcWrapClient): Promise<CheckResult> {
  const name = 'identity';
  const hub = cfg.cluster.transport.identity;
  let wrap: string;
  try {
    wrap = (await client.capabilities()).identity;
  } catch (err) {
    return fail(name, `cannot ask hpc-wrap capabilities: ${(err as Error).message}`, 'install the same version on both sides (hpc-bridge deploy)');
  }
  if (hub === 'sudo' && wrap !== 'per-user') {
    return fail(name, 'hub-bridge.yaml says identity sudo, hpc-wrap.yaml says identity.mode shared', 'set identity.mode: per-user and identity.serviceGroup in hpc-wrap.yaml, then run `hpc-wrap setup` (docs/identity.md)');
  }
  if (hub === 'shared' && wrap === 'per-user') {
    return fail(name, 'hpc-wrap.yaml says identity.mode per-user, hub-bridge.yaml says identity shared', 'set cluster.transport.identity: sudo in hub-bridge.yaml and add the sudoers line (docs/identity.md)');
  }
  if (hub === 'shared') {
    return {
      name,
      ok: true,
      warning: true,
      detail: "shared: every job runs as the service account, so every student's notebook can read every other student's files, homes and job keys",
      fix: 'for any multi-user site use per-user identity: identity sudo here, identity.mode per-user in hpc-wrap.yaml (docs/identity.md)',
    };
  }
  return pass(name, 'per-user: each job runs as its student; the service account reads status through its group');
}

export async function checkHubApi(cfg: HubBridgeConfig): Promise<CheckResult> {
  const name = 'JupyterHub API';
  try {
    const res = await fetch(cfg.hubApiUrl, { signal: AbortSignal.timeout(3000) });
    await res.body?.cancel();
    return res.status < 500 ? pass(name, `${cfg.hubApiUrl} answers (${res.status})`) : fail(name, `${cfg.hubApiUrl} answers ${res.status}`, 'check JupyterHub');
  } catch (err) {
    return fail(name, `${cfg.hubApiUrl}: ${(err as Error).message}`, 'set hubApiUrl to the hub API as this host reaches it (e.g. http://127.0.0.1:8081/hub/api)');
  }
}

