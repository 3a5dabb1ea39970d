// ONE URL builder for both programs (contract/url.ts): IPv6 literals in brackets, names and
// IPv4 as they are; and no other module brackets addresses by hand (the five places that
// each did it their own way are gone).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { authority, hostUrl } from '../../../contract/url.js';
import { REPO } from '../../support/bridge-fixture.js';

describe('contract/url.ts', () => {
  it('brackets IPv6 literals once, leaves names and IPv4 alone', () => {
    expect(authority('::1', 8000)).toBe('[::1]:8000');
    expect(authority('[::1]', 8000)).toBe('[::1]:8000');
    expect(authority('fe80::1%eth0', 80)).toBe('[fe80::1%eth0]:80');
    expect(authority('127.0.0.1', 8081)).toBe('127.0.0.1:8081');
    expect(authority('cn042.ib.cluster.example', 43123)).toBe('cn042.ib.cluster.example:43123');
    expect(hostUrl('http', '::', 9, '/user/alice/')).toBe('http://[::]:9/user/alice/');
    expect(hostUrl('ws', 'node7', 1234)).toBe('ws://node7:1234');
  });

  it('is the only place that brackets an address for a URL', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts') && !p.endsWith('contract/url.ts') && /includes\(':'\)[^\n]*`\[\$\{/.test(readFileSync(p, 'utf8'))) offenders.push(relative(REPO, p));
      }
    };
    for (const top of ['hub-bridge', 'hpc-wrappers', 'contract', 'config']) walk(join(REPO, top));
    expect(offenders).toEqual([]);
  });
});
