// Where the hub reaches a server without a tunnel: the node the scheduler reports (mapped by
// cluster.nodeAddress), fixed from the first RUNNING to the end — never the notebook's bind
// address. The scheduler's answers are scripted (test/support/scripted-cluster.ts) so that
// the node can be named unlike this host; the readiness probe is replaced to record the URL
// the hub would use (a node named cn042 does not resolve here).
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadHubBridgeConfig } from '../../../config/load.js';
import { slurmStyleLine } from '../../../hub-bridge/api/batchspawner-routes.js';
import { authority, hostForNode, serverUrl } from '../../../hub-bridge/sessions/server-address.js';
import { SessionService } from '../../../hub-bridge/sessions/session-service.js';
import { StatusPoller } from '../../../hub-bridge/sessions/status-poller.js';
import { sessionView } from '../../../hub-bridge/sessions/types.js';
import { SessionStore } from '../../../hub-bridge/store/session-store.js';
import { jobBindAddress } from '../../../hpc-wrappers/startjob/startjob.js';
import { ScriptedCluster } from '../../support/scripted-cluster.js';

const probed: string[] = [];
let answer = false;
vi.mock('../../../hub-bridge/sessions/readiness-probe.js', () => ({
  probeServer: async (url: string) => {
    probed.push(url);
    return answer;
  },
}));

const log = pino({ level: 'silent' });
const stores: SessionStore[] = [];
afterEach(() => {
  stores.splice(0).forEach((s) => s.close());
  probed.length = 0;
  answer = false;
});

async function spawnThrough(nodeAddress: string | undefined, scheduler = 'slurm') {
  const store = new SessionStore(':memory:');
  stores.push(store);
  const cluster = new ScriptedCluster();
  cluster.scheduler = scheduler;
  const config = loadHubBridgeConfig(null, nodeAddress ? { cluster: { nodeAddress } } : {});
  const service = new SessionService(store, cluster.asClient(), config, log);
  let t = 0; // a fake clock: every step is a minute later, so every session is due
  const poller = new StatusPoller(store, service, cluster.asClient(), { intervalMs: 15_000, startingIntervalMs: 1000, queuedIntervalMs: 10_000 }, log, () => t);
  const [created] = await service.create({ user: 'alice', env: { JUPYTERHUB_SERVICE_PREFIX: '/user/alice/' } }, null);
  await service.close(); // the submit ran
  const jobId = store.get(created.id)!.jobId!;
  const seen: Array<{ state: string; host: string | null; url: string | null; line: string }> = [];
  const step = async (st: Parameters<ScriptedCluster['status']>[1]) => {
    cluster.status(jobId, st);
    t += 60_000;
    await poller.tick();
    const s = store.get(created.id)!;
    seen.push({ state: s.state, host: s.host, url: sessionView(s).url, line: slurmStyleLine(s) });
  };
  return { store, id: created.id, seen, step };
}

describe('one rule for the host without a tunnel', () => {
  it('a batch node named unlike the hub host: its (mapped) name from the first RUNNING to the end, never 127.0.0.1', async () => {
    const { seen, step } = await spawnThrough('{node}.ib.cluster.example');
    await step({ state: 'pending', position: 2 });
    await step({ state: 'running', node: 'cn042' }); // start-env has not reported yet
    await step({ state: 'running', node: 'cn042', server: { phase: 'starting', host: '0.0.0.0', port: 51234, message: null } });
    await step({ state: 'running', node: 'cn042', server: { phase: 'listening', host: '127.0.0.1', port: 51234, message: null } });
    answer = true;
    await step({ state: 'running', node: 'cn042', server: { phase: 'listening', host: '127.0.0.1', port: 51234, message: null } });
    await step({ state: 'running', node: 'cn042', server: { phase: 'listening', host: 'localhost', port: 51234, message: null } });

    expect(seen.map((x) => x.state)).toEqual(['queued', 'starting', 'starting', 'starting', 'ready', 'ready']);
    expect(seen[0]).toMatchObject({ host: null, line: 'PENDING' });
    for (const x of seen.slice(1)) {
      expect(x.host).toBe('cn042.ib.cluster.example');
      expect(x.line).toBe('RUNNING cn042.ib.cluster.example');
    }
    expect(seen.at(-1)!.url).toBe('http://cn042.ib.cluster.example:51234');
    expect(probed.every((u) => u === 'http://cn042.ib.cluster.example:51234/user/alice/api')).toBe(true);
    expect(probed.length).toBeGreaterThan(0);
  });

  it('the default template is the node name itself; a node list means its first node', async () => {
    const { seen, step } = await spawnThrough(undefined);
    await step({ state: 'running', node: 'gpu[07-09]', server: { phase: 'listening', host: '127.0.0.1', port: 50000, message: null } });
    expect(seen[0]).toMatchObject({ host: 'gpu07', line: 'RUNNING gpu07', url: 'http://gpu07:50000' });
  });

  it('the fork scheduler runs the job on this host: 127.0.0.1, whatever its node name', async () => {
    const { seen, step } = await spawnThrough(undefined, 'fork');
    await step({ state: 'running', node: 'login1', server: { phase: 'listening', host: '127.0.0.1', port: 50001, message: null } });
    expect(seen[0]).toMatchObject({ host: '127.0.0.1', line: 'RUNNING 127.0.0.1' });
  });

  it('a server that answers while start-env still says starting is not ready: its listening work (the port report) may fail yet', async () => {
    const { seen, step } = await spawnThrough(undefined);
    answer = true;
    await step({ state: 'running', node: 'cn042', server: { phase: 'starting', host: '0.0.0.0', port: 51234, message: null } });
    expect(probed).toEqual([]);
    await step({ state: 'running', node: 'cn042', server: { phase: 'listening', host: '0.0.0.0', port: 51234, message: null } });
    expect(seen.map((x) => x.state)).toEqual(['starting', 'ready']);
  });

  it('maps names and builds IPv6-correct URLs', () => {
    expect(hostForNode('cn042', '{node}', 'batch')).toBe('cn042');
    expect(hostForNode('cn042', '{node}-ib0', 'batch')).toBe('cn042-ib0');
    expect(hostForNode('localhost', '{node}.x', 'batch')).toBe('127.0.0.1');
    expect(hostForNode(null, '{node}', 'batch')).toBeNull();
    expect(hostForNode('login1', '{node}', 'local')).toBe('127.0.0.1');
    expect(authority('fd00::42', 8888)).toBe('[fd00::42]:8888');
    expect(serverUrl('fd00::42', 8888, '/user/a/')).toBe('http://[fd00::42]:8888/user/a/');
    expect(serverUrl('cn1', 8888)).toBe('http://cn1:8888');
  });

  it('refuses a nodeAddress that could inject into a URL', () => {
    expect(() => loadHubBridgeConfig(null, { cluster: { nodeAddress: 'evil/{node}' } })).toThrow(/nodeAddress/);
    expect(() => loadHubBridgeConfig(null, { cluster: { nodeAddress: 'a@{node}' } })).toThrow(/nodeAddress/);
  });
});

describe('where the server listens (hpc-wrap, jupyter.bindAddress)', () => {
  it('auto: every address of a batch node without a tunnel (the hub comes from outside), loopback otherwise', () => {
    expect(jobBindAddress('auto', { tunnel: false, batchSystem: true })).toBe('0.0.0.0');
    expect(jobBindAddress('auto', { tunnel: false, batchSystem: false })).toBe('127.0.0.1');
    expect(jobBindAddress('auto', { tunnel: true, batchSystem: true })).toBe('127.0.0.1');
    expect(jobBindAddress('10.1.2.3', { tunnel: true, batchSystem: true })).toBe('127.0.0.1');
    expect(jobBindAddress('10.1.2.3', { tunnel: false, batchSystem: true })).toBe('10.1.2.3');
  });
});
