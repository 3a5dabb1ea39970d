// hub-bridge.yaml `tunnel`: the endpoint's keys with their defaults, the one required key
// when enabled, paths relative to the file, and what the keys of the former system-sshd
// mode became (config check says it instead of "unknown key").
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadHubBridgeConfig } from '../../../config/load.js';

function load(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), 'tunnel-config-'));
  const file = join(dir, 'hub-bridge.yaml');
  writeFileSync(file, yaml);
  return { dir, load: () => loadHubBridgeConfig(file) };
}

const problems = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join('\n');
    throw err;
  }
  return '';
};

describe('tunnel config', () => {
  it('has working defaults and resolves the host key file next to the config file', () => {
    const { dir, load: l } = load('tunnel:\n  enabled: true\n  publicHost: hub.example.org\n');
    const t = l().tunnel;
    expect(t).toMatchObject({ listen: { host: '0.0.0.0', port: 2222 }, publicHost: 'hub.example.org', publicPort: null, user: 'tunnelbot', keepaliveIntervalSeconds: 5, endpointKeepaliveSeconds: 1 });
    expect(t.hostKeyFile).toBe(join(dir, '.state/tunnel-host-key'));
  });

  it('needs publicHost when enabled, and says what it is for', () => {
    const { load: l } = load('tunnel:\n  enabled: true\n');
    expect(problems(l)).toMatch(/tunnel\.publicHost: got nothing; is required with tunnel\.enabled: the name or address compute nodes use to reach this host/);
  });

  it('names what replaced each key of the system-sshd mode', () => {
    const { load: l } = load('tunnel:\n  enabled: true\n  sshHost: hub\n  sshPort: 22\n  hostKeyFiles: [/etc/ssh/ssh_host_ed25519_key.pub]\n  keysetFile: /var/lib/x.json\n');
    const p = problems(l);
    expect(p).toMatch(/tunnel: sshHost was renamed tunnel\.publicHost; sshPort was replaced by tunnel\.listen\.port/);
    expect(p).toMatch(/hostKeyFiles was replaced by tunnel\.hostKeyFile.*keysetFile was no longer used.*\(docs\/tunnel\.md\)/);
  });
});
