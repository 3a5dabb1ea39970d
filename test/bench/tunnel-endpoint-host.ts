// The bridge's tunnel endpoint (hub-bridge/tunnel/tunnels.ts) alone in its own process,
// for the tunnel benchmarks: N sessions granted (or restored from the state file after a
// restart), their grants written to a 0600 file for the agents. Commands on stdin, one
// JSON answer per line on stdout:
//   stats → {"up":…,"authenticated":…,"sessions":…}
// Run: node --import tsx test/bench/tunnel-endpoint-host.ts '<json options>'
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { loadHubBridgeConfig } from '../../config/load.js';
import { createLogger } from '../../hub-bridge/log.js';
import type { Session } from '../../hub-bridge/sessions/types.js';
import type { TunnelGrant } from '../../hub-bridge/tunnel/tunnel-registry.js';
import { Tunnels } from '../../hub-bridge/tunnel/tunnels.js';

export interface EndpointHostOptions {
  dir: string;
  listenPort: number;
  apiPort: number;
  ports: { start: number; end: number };
  sessions: number;
  /** tunnel.endpointKeepaliveSeconds (default: the config default). */
  endpointKeepaliveSeconds?: number;
}

export interface BenchGrant {
  sessionId: string;
  grant: TunnelGrant;
}

const o = JSON.parse(process.argv[2]!) as EndpointHostOptions;
const stateFile = `${o.dir}/grants.json`;
const config = loadHubBridgeConfig(null, {
  hubApiUrl: `http://127.0.0.1:${o.apiPort}/hub/api`,
  ports: o.ports,
  tunnel: { enabled: true, listen: { host: '127.0.0.1', port: o.listenPort }, publicHost: '127.0.0.1', hostKeyFile: `${o.dir}/host-key`, maxUnauthenticated: 2000, ...(o.endpointKeepaliveSeconds ? { endpointKeepaliveSeconds: o.endpointKeepaliveSeconds } : {}) },
  log: { level: 'warn' },
});
const tunnels = new Tunnels(config, createLogger('warn'));

let grants: BenchGrant[];
if (existsSync(stateFile)) {
  // a restart: take the sessions back as the bridge does from its database
  grants = JSON.parse(readFileSync(stateFile, 'utf8')) as BenchGrant[];
  const rows = grants.map((g) => ({ id: g.sessionId, tunnelPort: g.grant.remotePort, tunnelPublicKey: g.grant.publicKey, tunnelExpiresAt: g.grant.expiresAt, tunnelState: 'up' }) as Session);
  const lost = await tunnels.restore(rows);
  if (lost.length) process.stderr.write(`endpoint host: ${lost.length} ports could not be taken back\n`);
} else {
  grants = [];
  for (let i = 0; i < o.sessions; i++) {
    const grant = await tunnels.grant({ walltime: '02:00:00' } as never);
    const sessionId = `s-bench${String(i).padStart(6, '0')}`;
    tunnels.activate(sessionId, grant);
    grants.push({ sessionId, grant });
  }
  writeFileSync(stateFile, JSON.stringify(grants), { mode: 0o600 });
}
await tunnels.listen();
process.stdout.write(`${JSON.stringify({ ready: true, sessions: grants.length })}\n`);

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'stats') process.stdout.write(`${JSON.stringify(tunnels.stats())}\n`);
});
process.stdin.on('end', () => void tunnels.close().then(() => process.exit(0)));
process.on('SIGTERM', () => void tunnels.close().then(() => process.exit(0)));
