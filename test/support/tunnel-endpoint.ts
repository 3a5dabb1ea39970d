// The bridge's real tunnel endpoint (hub-bridge/tunnel/tunnels.ts) in the test process,
// on loopback: its own host key in a temp dir, a port range, and sessions granted the way
// the session service grants them. For tests of the compute-side agent and of the
// endpoint itself; the system suite runs it inside the real bridge process.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadHubBridgeConfig } from '../../config/load.js';
import { createLogger } from '../../hub-bridge/log.js';
import { tunnelDocument, type TunnelDocument, type TunnelGrant } from '../../hub-bridge/tunnel/tunnel-registry.js';
import { Tunnels, type TunnelChange } from '../../hub-bridge/tunnel/tunnels.js';

export interface TestEndpoint {
  tunnels: Tunnels;
  /** The endpoint's port on 127.0.0.1. */
  port: number;
  /** Its host key file. */
  hostKeyFile: string;
  /** The endpoint's log lines (JSON). */
  log(): string;
  changes: TunnelChange[];
  /** A new session with a granted port and key; `spec` is what its job would get. */
  session(id?: string): Promise<{ sessionId: string; grant: TunnelGrant; spec: Omit<TunnelDocument, 'privateKey'> }>;
  close(): Promise<void>;
}

/** A session id as the bridge makes them (s- and 26 base32 characters). */
export function sessionId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return `s-${Array.from(randomBytes(26), (b) => alphabet[b & 31]).join('')}`;
}

/** A free TCP port on 127.0.0.1 (bound and closed at once). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * `count` consecutive ports on 127.0.0.1 that nothing holds, below Linux's ephemeral range
 * (32768-) so that no client connection of a test running beside takes one meanwhile.
 */
export async function freeLoopbackRange(count: number): Promise<number> {
  const bindable = (p: number) => new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * (32768 - 20000 - count));
    let free = true;
    for (let p = base; p < base + count && free; p++) free = await bindable(p);
    if (free) return base;
  }
  throw new Error(`no ${count} free consecutive loopback ports in 20000-32767`);
}

export async function startTestEndpoint(o: { apiPort: number; ports?: { start: number; end: number }; tunnel?: Record<string, unknown> }): Promise<TestEndpoint> {
  const dir = mkdtempSync(join(tmpdir(), 'tunnel-endpoint-'));
  const listenPort = await freeLoopbackPort();
  const base = 30000 + Math.floor(Math.random() * 30000);
  const config = loadHubBridgeConfig(null, {
    hubApiUrl: `http://127.0.0.1:${o.apiPort}/hub/api`,
    ports: o.ports ?? { start: base, end: base + 49 },
    tunnel: { enabled: true, listen: { host: '127.0.0.1', port: listenPort }, publicHost: '127.0.0.1', hostKeyFile: join(dir, 'host-key'), ...o.tunnel },
  });
  let lines = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines += String(chunk);
      cb();
    },
  });
  const tunnels = new Tunnels(config, createLogger('debug', sink));
  const changes: TunnelChange[] = [];
  tunnels.on('change', (c) => changes.push(c));
  await tunnels.listen();
  return {
    tunnels,
    port: listenPort,
    hostKeyFile: join(dir, 'host-key'),
    log: () => lines,
    changes,
    async session(id = sessionId()) {
      const grant = await tunnels.grant({ walltime: '01:00:00' } as never);
      tunnels.activate(id, grant);
      const { privateKey: _k, ...spec } = tunnelDocument(grant);
      return { sessionId: id, grant, spec };
    },
    async close() {
      await tunnels.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
