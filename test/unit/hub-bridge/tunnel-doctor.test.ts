// doctor's tunnel checks against the real endpoint in this process: the host key file,
// the endpoint answering with that key (or something else, or nothing), the public name,
// and the port range with ports held by sessions and by other programs.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadHubBridgeConfig } from '../../../config/load.js';
import { checkPortRange, checkTunnelEndpoint, checkTunnelHostKey } from '../../../hub-bridge/doctor/tunnel-checks.js';
import { generateTunnelKey } from '../../../hub-bridge/tunnel/tunnel-keys.js';
import { freeLoopbackPort, freeLoopbackRange, startTestEndpoint } from '../../support/tunnel-endpoint.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function config(over: Record<string, unknown>, ports = { start: 40000, end: 40009 }) {
  return loadHubBridgeConfig(null, { hubApiUrl: 'http://127.0.0.1:8081/hub/api', ports, tunnel: { enabled: true, publicHost: '127.0.0.1', ...over } });
}

describe('doctor: tunnel', () => {
  it('passes for a running endpoint with its key, and names the address jobs use', async () => {
    const e = await startTestEndpoint({ apiPort: 1 });
    cleanup.push(() => e.close());
    const cfg = config({ listen: { host: '127.0.0.1', port: e.port }, hostKeyFile: e.hostKeyFile });
    expect(checkTunnelHostKey(cfg)).toMatchObject({ ok: true, detail: expect.stringMatching(/SHA256:\S+ \(mode 600; jobs pin it\)/) });
    const results = await checkTunnelEndpoint(cfg);
    expect(results.every((r) => r.ok), JSON.stringify(results)).toBe(true);
    expect(results.find((r) => r.name === 'tunnel public address')?.detail).toMatch(new RegExp(`jobs connect to 127\\.0\\.0\\.1:${e.port}`));
  });

  it('fails with what to do: nothing listening, another key, a key others can read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'doctor-'));
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, generateTunnelKey().privateKey, { mode: 0o600 });
    const port = await freeLoopbackPort();
    const nothing = await checkTunnelEndpoint(config({ listen: { host: '127.0.0.1', port }, hostKeyFile: keyFile }));
    expect(nothing[0]).toMatchObject({ ok: false, detail: expect.stringMatching(/nothing answers SSH on 127\.0\.0\.1:\d+/), fix: expect.stringMatching(/start hpc-bridge serve/) });

    const e = await startTestEndpoint({ apiPort: 1 });
    cleanup.push(() => e.close());
    const other = await checkTunnelEndpoint(config({ listen: { host: '127.0.0.1', port: e.port }, hostKeyFile: keyFile }));
    expect(other[0]).toMatchObject({ ok: false, detail: expect.stringMatching(/presents SHA256:\S+, not the key in/) });

    chmodSync(keyFile, 0o640);
    expect(checkTunnelHostKey(config({ hostKeyFile: keyFile }))).toMatchObject({ ok: false, detail: expect.stringMatching(/mode 640.*chmod 600/) });
    expect(checkTunnelHostKey(config({ hostKeyFile: join(dir, 'not-yet') }))).toMatchObject({ ok: true, detail: expect.stringMatching(/makes it on its first start/) });
  });

  it('counts the range: held for sessions, bound by others; fails close to exhaustion', async () => {
    const servers: Server[] = [];
    cleanup.push(() => servers.forEach((s) => s.close()));
    const base = await freeLoopbackRange(10);
    const bind = (p: number) => new Promise<void>((r) => { const s = createServer(); servers.push(s); s.once('error', () => r()); s.listen(p, '127.0.0.1', () => r()); });
    for (let p = base; p < base + 3; p++) await bind(p);
    const ok = await checkPortRange(config({}, { start: base, end: base + 9 }), 1);
    expect(ok).toMatchObject({ ok: true, detail: expect.stringMatching(/^7 of 10 ports free \(1 held for live sessions, 2 bound by other programs\)/) });
    for (let p = base + 3; p <= base + 9; p++) await bind(p);
    expect(await checkPortRange(config({}, { start: base, end: base + 9 }), 0)).toMatchObject({ ok: false, fix: expect.stringMatching(/wider range/) });
  });
});
