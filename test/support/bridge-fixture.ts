// Starts a real bridge in-process on a temp dir: SQLite store, local transport, the built
// hpc-wrap bundle with the `fork` scheduler. Logs are captured so tests can scan them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { loadHubBridgeConfig } from '../../config/load.js';
import { startBridge, type Bridge } from '../../hub-bridge/bridge.js';
import { createLogger } from '../../hub-bridge/log.js';
import { stopForkJobs } from './fork-jobs.js';

export const REPO = resolve(import.meta.dirname, '../..');
export const HPC_WRAP = join(REPO, 'dist/hpc-wrap.mjs');
export const STAND_IN_SERVER = join(REPO, 'test/fixtures/http-stand-in-server.mjs');

export interface BridgeFixture {
  bridge: Bridge;
  dir: string;
  workDir: string;
  hpcWrapConfig: string;
  bridgeConfig: string;
  logs: () => string;
  auth: { Authorization: string };
  close(): Promise<void>;
}

export function writeConfigs(dir: string, hub: Record<string, unknown> = {}, hpc: Record<string, unknown> = {}) {
  const workDir = join(dir, 'hpc');
  const hpcWrapConfig = join(dir, 'hpc-wrap.yaml');
  writeFileSync(hpcWrapConfig, stringify({ workDir, scheduler: { kind: 'fork' }, ...hpc }));
  const bridgeConfig = join(dir, 'hub-bridge.yaml');
  writeFileSync(
    bridgeConfig,
    stringify({
      listen: { host: '127.0.0.1', port: 0 },
      apiTokenFile: join(dir, 'token'),
      stateDb: join(dir, 'bridge.sqlite'),
      cluster: { hpcWrap: [process.execPath, HPC_WRAP, '--config', hpcWrapConfig] },
      status: { intervalSeconds: 1, startingIntervalSeconds: 0.2 },
      profiles: [
        { name: 'small', displayName: 'Small', description: '1 CPU', resources: { cpus: 1, walltime: '00:30:00' } },
        { name: 'big', displayName: 'Big <b>', description: '4 CPUs', resources: { cpus: 4 } },
      ],
      ...hub,
    }),
  );
  return { workDir, hpcWrapConfig, bridgeConfig };
}

export async function startBridgeFixture(hub: Record<string, unknown> = {}, hpc: Record<string, unknown> = {}): Promise<BridgeFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'hpc-bridge-test-'));
  const files = writeConfigs(dir, hub, hpc);
  let logText = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logText += String(chunk);
      cb();
    },
  });
  const bridge = await startBridge(loadHubBridgeConfig(files.bridgeConfig), createLogger('debug', sink));
  return {
    bridge,
    dir,
    ...files,
    logs: () => logText,
    auth: { Authorization: `Bearer ${bridge.token}` },
    async close() {
      await bridge.close();
      await stopForkJobs(files.workDir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}
