// Runs every doctor check in order and prints a report a person can act on.
import type { HubBridgeConfig } from '../../config/schema.js';
import { HpcWrapClient } from '../cluster/hpc-wrap-client.js';
import type { Transport } from '../transport/types.js';
import { checkCluster, checkHubApi, checkStateDb, checkTokenFile, remoteDoctor, type CheckResult } from './doctor-checks.js';
import { checkPortRange, checkTunnelEndpoint, checkTunnelHostKey } from './tunnel-checks.js';

export interface DoctorOptions {
  liveTunnelPorts: number;
  /** Only what needs no running JupyterHub or bridge: the config, the state dir and the cluster side. */
  clusterOnly?: boolean;
}

export async function runDoctor(cfg: HubBridgeConfig, transport: Transport, hpcWrap: string[], opts: DoctorOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = opts.clusterOnly ? [checkStateDb(cfg)] : [checkTokenFile(cfg), checkStateDb(cfg)];
  const timeoutMs = cfg.cluster.commandTimeoutSeconds * 1000;
  const client = new HpcWrapClient(transport, hpcWrap, timeoutMs);
  try {
    results.push(...(await checkCluster(client, cfg, () => remoteDoctor(transport, hpcWrap, timeoutMs))));
  } finally {
    await transport.close();
  }
  if (opts.clusterOnly) return results;
  results.push(await checkHubApi(cfg));
  if (cfg.tunnel.enabled) {
    results.push(checkTunnelHostKey(cfg));
    results.push(...(await checkTunnelEndpoint(cfg)));
    results.push(await checkPortRange(cfg, opts.liveTunnelPorts));
  }
  return results;
}

export function formatReport(results: CheckResult[], opts: { clusterOnly?: boolean } = {}): string {
  const lines = results.map((r) => `${!r.ok ? 'FAIL' : r.warning ? 'WARN' : 'ok  '}  ${r.name}: ${r.detail}${r.fix ? `\n      ${r.ok ? 'note' : 'fix'}: ${r.fix}` : ''}`);
  const failed = results.filter((r) => !r.ok).length;
  if (opts.clusterOnly) {
    lines.push('', failed === 0 ? 'The cluster side checks out (JupyterHub, the API token and the tunnel endpoint were not checked: --cluster-only).' : `${failed} problem(s) found.`);
  } else {
    lines.push('', failed === 0 ? 'Every link of the chain checks out.' : `${failed} problem(s) found.`);
  }
  return lines.join('\n') + '\n';
}
