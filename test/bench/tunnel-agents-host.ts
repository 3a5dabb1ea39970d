// Many compute-side agents (the TunnelClient of hpc-wrap's start-env) in one process, for
// the tunnel benchmarks: one agent per grant in [from, from + count) of the endpoint
// host's grants file, all relaying to one node-side server. Commands on stdin:
//   stats → {"up":…,"total":…}
// Run: node --import tsx test/bench/tunnel-agents-host.ts '<json options>'
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { TunnelClient } from '../../hpc-wrappers/start-env/tunnel-client.js';
import { tunnelDocument } from '../../hub-bridge/tunnel/tunnel-registry.js';
import type { BenchGrant } from './tunnel-endpoint-host.js';

interface AgentsHostOptions {
  grantsFile: string;
  from: number;
  count: number;
  targetPort: number;
  /** Connect elsewhere (e.g. a system sshd for a baseline): port, user and its known_hosts line. */
  override?: { port: number; user: string; hostKeys: string[] };
}

const o = JSON.parse(process.argv[2]!) as AgentsHostOptions;
const grants = (JSON.parse(readFileSync(o.grantsFile, 'utf8')) as BenchGrant[]).slice(o.from, o.from + o.count);
const up = new Set<number>();
const clients = grants.map((g, i) => {
  const { privateKey, ...spec } = tunnelDocument(g.grant);
  return new TunnelClient({
    spec: { ...spec, ...o.override },
    privateKey,
    target: { host: '127.0.0.1', port: o.targetPort },
    onState: (state) => (state === 'up' ? up.add(i) : up.delete(i)),
    say: () => {},
  });
});
for (const c of clients) c.start();
process.stdout.write(`${JSON.stringify({ started: clients.length })}\n`);

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'stats') process.stdout.write(`${JSON.stringify({ up: up.size, total: clients.length })}\n`);
});
const stop = () => void Promise.all(clients.map((c) => c.stop())).then(() => process.exit(0));
process.stdin.on('end', stop);
process.on('SIGTERM', stop);
