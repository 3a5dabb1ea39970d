import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configDocs } from '../../../config/docs.js';
import { ConfigError, loadHpcWrapConfig, loadHubBridgeConfig, redact } from '../../../config/load.js';
import { hpcWrapSchema, hubBridgeSchema } from '../../../config/schema.js';

const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('config loading', () => {
  it('the defaults are the embedded setup: loopback, fork scheduler, state under .state/', () => {
    const hub = loadHubBridgeConfig(null);
    const hpc = loadHpcWrapConfig(null);
    expect(hub.listen.host).toBe('127.0.0.1');
    expect(hub.cluster.transport.kind).toBe('local');
    expect(hpc.scheduler.kind).toBe('fork');
    expect(hub.stateDb).toMatch(/\.state\/bridge\.sqlite$/);
  });

  it('resolves relative paths against the config file', () => {
    const cfg = loadHpcWrapConfig(file('rel.yaml', 'workDir: jobs\n'));
    expect(cfg.workDir).toBe(join(dir, 'jobs'));
    expect(cfg.homes.root).toBe(join(dir, 'jobs', 'homes'));
  });

  it('errors name the file, the key path, the value given and what is allowed', () => {
    const f = file('bad.yaml', 'listen:\n  port: 70000\nstatus:\n  intervalSeconds: soon\nbogus: 1\n');
    let err: ConfigError | undefined;
    try {
      loadHubBridgeConfig(f);
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toContain(f);
    expect(err!.message).toMatch(/listen\.port: got 70000; .*<=65535/);
    expect(err!.message).toMatch(/status\.intervalSeconds: got "soon"; .*number/);
    expect(err!.message).toMatch(/unknown key\(s\) "bogus"/);
  });

  it('reports YAML syntax errors with the file name', () => {
    expect(() => loadHpcWrapConfig(file('syntax.yaml', 'workDir: [unclosed\n'))).toThrow(/syntax\.yaml.*YAML syntax/s);
  });

  it('scheduler commands must be argv arrays, not shell strings', () => {
    expect(() => loadHpcWrapConfig(file('sh.yaml', 'scheduler:\n  kind: slurm\n  submit: "sbatch --parsable"\n'))).toThrow(/scheduler\.submit/);
  });

  it('refuses a defaultProfile that names no profile', () => {
    expect(() => loadHubBridgeConfig(file('prof.yaml', 'defaultProfile: nope\n'))).toThrow(/defaultProfile.*must name one of the profiles \(default\)/);
  });

  it('rejects profile resources that could smuggle options', () => {
    const text = 'profiles:\n  - name: p\n    displayName: P\n    resources:\n      partition: "debug --uid=0"\n      extraArgs: ["--x\\n#SBATCH --uid=0"]\n';
    expect(() => loadHubBridgeConfig(file('smuggle.yaml', text))).toThrow(/resources\.partition[\s\S]*resources\.extraArgs/);
  });

  it('redacts secret-looking values when printing', () => {
    expect(redact({ a: { webdavPassword: 'p', apiTokenFile: '/x', token: 't' } })).toEqual({ a: { webdavPassword: '<redacted>', apiTokenFile: '/x', token: '<redacted>' } });
  });

  it('every key of both schemas carries a description', () => {
    for (const [schema, name] of [[hubBridgeSchema, 'hub'], [hpcWrapSchema, 'hpc']] as const) {
      const docs = configDocs(schema, name);
      const undocumented = docs.split('\n').filter((l, i, all) => /^[a-zA-Z.]+: /.test(l) && !(all[i + 1] ?? '').trim());
      expect(undocumented).toEqual([]);
    }
  });
});
