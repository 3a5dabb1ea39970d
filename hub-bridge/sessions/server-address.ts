// ONE rule for where the hub reaches a job's server (docs/architecture.md "Where the hub
// reaches the server"). Through a tunnel: the hub's own 127.0.0.1:P. Without one: the node
// the scheduler reports, mapped by hub-bridge.yaml `cluster.nodeAddress` ('{node}' by
// default); the fork scheduler's jobs run on the login node itself, reached at 127.0.0.1.
// The host is fixed at the first RUNNING and kept to the end: never the address the server
// binds (start-env's 127.0.0.1 or 0.0.0.0 would send the hub to itself).

import { hostUrl } from '../../contract/url.js';

const LOOPBACK_NODES = new Set(['localhost', 'localhost.localdomain', '127.0.0.1', '::1']);

/** Where the scheduler runs jobs: `local` (no batch system: on the host hpc-wrap runs on, the fork scheduler) or on `batch` nodes. */
export type JobsRun = 'local' | 'batch';

/** The host the hub uses for a server on `node`; null while the node is not known. */
export function hostForNode(node: string | null, template: string, jobsRun: JobsRun | null): string | null {
  if (jobsRun === 'local') return '127.0.0.1';
  if (!node) return null;
  // A job on several nodes: its server runs on the first (the batch host); Slurm
  // compresses the list (cn[01-04,07]).
  const ranged = /^([^[,]*)\[(\d+)/.exec(node);
  const first = ranged ? `${ranged[1]}${ranged[2]}` : node.split(',')[0]!.trim();
  if (!first) return null;
  if (LOOPBACK_NODES.has(first)) return '127.0.0.1';
  return template.split('{node}').join(first);
}

export { authority } from '../../contract/url.js';

/** http://host:port with the prefix (ending in /), or null when not known yet. */
export function serverUrl(host: string | null, port: number | null, prefix = ''): string | null {
  if (!host || !port) return null;
  return hostUrl('http', host, port, prefix);
}
