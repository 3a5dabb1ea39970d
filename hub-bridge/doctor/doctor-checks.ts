// `hpc-bridge doctor`: checks each link of the chain and says what to fix. Each check is a
// small function returning a result; nothing here changes anything.
import { existsSync, statSync } from 'node:fs';
import { writableOrCreatable } from '../../config/writable-path.js';
import { dirname } from 'node:path';
import type { HubBridgeConfig } from '../../config/schema.js';
import type { HpcWrapClient } from '../cluster/hpc-wrap-client.js';
import type { Transport } from '../transport/types.js';
import { VERSION } from '../version.js';
import { mainErrorLine, schedulerEnvHint } from '../../config/scheduler-env-vars.js';

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
  if (!existsSync(cfg.apiTokenFile)) {
    // Not a fault before the first start: `hpc-bridge serve` makes it (0600) when it can.
    const w = writableOrCreatable(cfg.apiTokenFile);
    return w.ok
      ? pass(name, `${cfg.apiTokenFile} does not exist yet; hpc-bridge serve makes it (mode 600) on its first start`)
      : fail(name, `${cfg.apiTokenFile} does not exist and cannot be made: ${w.checked}: ${w.error}`, `make ${dirname(cfg.apiTokenFile)} writable by the account that runs hpc-bridge (or write a long random token there, mode 0600)`);
  }
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
  /** Each environment's modules as a job's Lmod finds them on the login node (absent from an older hpc-wrap). */
  modules?: { environment: string; modules: string[]; missing: string[]; modulePath: string; error: string | null }[];
}

/**
 * The environments' modules: a module Lmod does not find with a job's MODULEPATH is a WARN
 * (the compute nodes may have trees the login node lacks), with the key that fixes it.
 */
export function checkModules(remote: RemoteCheck): CheckResult[] {
  const envs = remote.modules ?? [];
  if (!envs.length) return [];
  const out: CheckResult[] = [];
  for (const e of envs) {
    const key = `environments.${e.environment}.modules`;
    if (e.error) {
      out.push({ name: 'modules', ok: true, warning: true, detail: `environment ${e.environment}: Lmod could not be asked on the login node (${e.error})`, fix: `install Lmod there or set ${key}.lmodCommand in hpc-wrap.yaml` });
    } else if (e.missing.length) {
      out.push({
        name: 'modules',
        ok: true,
        warning: true,
        detail: `environment ${e.environment}: Lmod on the login node does not find ${e.missing.join(', ')} with a job's MODULEPATH (${e.modulePath || 'empty'}); a spawn there fails unless the compute nodes have it`,
        fix: `add the directory that holds it to ${key}.modulePath in hpc-wrap.yaml (jobs started over SSH get no login shell's MODULEPATH; hpc-wrap wizard writes it)`,
      });
    }
  }
  const fine = envs.filter((e) => !e.error && !e.missing.length);
  if (fine.length) out.push(pass('modules', `Lmod finds the modules of ${fine.map((e) => `${e.environment} (${e.modules.join(', ')})`).join('; ')} with a job's MODULEPATH`));
  return out;
}

/**
 * `hpc-wrap doctor` through the transport. It exits 1 when one of its own checks fails but
 * still prints its report, which is what is wanted here; anything else is a broken link.
 */
export async function remoteDoctor(transport: Transport, hpcWrap: readonly string[], timeoutMs: number): Promise<RemoteCheck> {
  const r = await transport.run([...hpcWrap, 'doctor'], { timeoutMs });
  let doc: unknown;
  try {
    doc = JSON.parse(r.stdout);
  } catch {
    doc = undefined;
  }
  const looksRight = typeof doc === 'object' && doc !== null && typeof (doc as RemoteCheck).version === 'string' && typeof (doc as RemoteCheck).scheduler === 'object';
  if ((r.exitCode === 0 || r.exitCode === 1) && looksRight) return doc as RemoteCheck;
  const detail = mainErrorLine(r.stderr.trim() || r.stdout.trim());
  throw new Error(`hpc-wrap doctor failed (exit ${r.exitCode}): ${detail || 'no output'}`);
}

/** What to set when the scheduler does not answer: scheduler.env names the variables its commands need. */
export function schedulerFix(name: string): string {
  return `check that the scheduler commands in hpc-wrap.yaml work for the service account on the login node; ${schedulerEnvHint(name)}`;
}

/** hpc-wrap on the login node: reachable, same version, work dir, scheduler. */
export async function checkCluster(client: HpcWrapClient, cfg: HubBridgeConfig, readRemote: () => Promise<RemoteCheck>): Promise<CheckResult[]> {
  let remote: RemoteCheck;
  try {
    remote = await readRemote();
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
      : fail('scheduler', `${remote.scheduler.name} does not answer: ${mainErrorLine(remote.scheduler.error ?? 'no reason given')}`, schedulerFix(remote.scheduler.name)),
  );
  out.push(...checkModules(remote));
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
  const notYet = 'start JupyterHub (or, if it listens elsewhere, set hubApiUrl to its API URL as this host reaches it); to check the cluster side before the hub is up: hpc-bridge doctor --cluster-only';
  try {
    const res = await fetch(cfg.hubApiUrl, { signal: AbortSignal.timeout(3000) });
    await res.body?.cancel();
    return res.status < 500 ? pass(name, `${cfg.hubApiUrl} answers (${res.status})`) : fail(name, `JupyterHub answers ${res.status} at ${cfg.hubApiUrl}`, 'see the JupyterHub log');
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const why = e.name === 'TimeoutError' ? 'no answer within 3 s' : e.cause?.code ?? e.message;
    return fail(name, `JupyterHub is not answering at ${cfg.hubApiUrl} (${why})`, notYet);
  }
}

