// Runs every doctor check in order and prints a report a person can act on.
import type { HubBridgeConfig } from '../../config/schema.js';
import { HpcWrapClient } from '../cluster/hpc-wrap-client.js';
import type { Transport } from '../transport/types.js';
import { checkCluster, checkHubApi, checkStateDb, checkTokenFile, type CheckResult } from './doctor-checks.js';
import { checkPortRange, checkTunnelEndpoint, checkTunnelHostKey } from './tunnel-checks.js';

export async function runDoctor(cfg: HubBridgeConfig, transport: Transport, hpcWrap: string[], opts: { liveTunnelPorts: number }): Promise<CheckResult[]> {
  const results: CheckResult[] = [checkTokenFile(cfg), checkStateDb(cfg)];
  const client = new HpcWrapClient(transport, hpcWrap, cfg.cluster.commandTimeoutSeconds * 1000);
  try {
    results.push(...(await checkCluster(client, cfg)));
  } finally {
    await transport.close();
  }
  results.push(await checkHubApi(cfg));
  if (cfg.tunnel.enabled) {
    results.push(checkTunnelHostKey(cfg));
    results.push(...(await checkTunnelEndpoint(cfg)));
    results.push(await checkPortRange(cfg, opts.liveTunnelPorts));
  }
  return results;
}

export function formatReport(results: CheckResult[]): string {
  const lines = results.map((r) => `${!r.ok ? 'FAIL' : r.warning ? 'WARN' : 'ok  '}  ${r.name}: ${r.detail}${r.fix ? `\n      ${r.ok ? 'note' : 'fix'}: ${r.fix}` : ''}`);
  const failed = results.filter((r) => !r.ok).length;
  lines.push('', failed === 0 ? 'Every link of the chain checks out.' : `${failed} problem(s) found.`);
  return lines.join('\n') + '\n';
}
