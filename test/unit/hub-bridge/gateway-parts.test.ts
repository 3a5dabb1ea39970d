// The gateway's small parts: the launch comment, labels, request addressing and origin
// checks, the label table, admission, the Slurm owner/comment query, and a restart that
// keeps links and cookies.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { base32, formatComment, LABEL_RE, parseComment, randomLabel, randomSecret, secretHash, TOKEN_PARAM } from '../../../contract/launch.js';
import { AddressRanges, RateLimiter } from '../../../hub-bridge/gateway/admission.js';
import { RouteTable } from '../../../hub-bridge/gateway/route-table.js';
import { crossOrigin, stripCookie, targetOf, withoutToken } from '../../../hub-bridge/gateway/request-routing.js';
import { ownedJobsArgs, parseOwnedJobs } from '../../../hpc-wrappers/schedulers/slurm/owned-jobs.js';
import { slurmResourceArgs as resourceOptions } from '../../../hpc-wrappers/schedulers/slurm/dialect.js';
import { gatewayFixture, httpsTo, ScriptedJobs } from '../../support/gateway-fixture.js';

describe('the launch comment', () => {
  it('round-trips hash and port; anything else in a comment is not a launch', () => {
    const h = secretHash(randomSecret());
    expect(parseComment(formatComment(h))).toEqual({ hash: h, port: null });
    expect(parseComment(formatComment(h, 50123))).toEqual({ hash: h, port: 50123 });
    for (const c of [null, '', 'hello', `${formatComment(h)}:0`, `${formatComment(h)}:70000`, `${formatComment(h)}:1:2`, `x${formatComment(h)}`, formatComment(h).slice(0, -1)]) {
      expect(parseComment(c)).toBeNull();
    }
  });

  it('labels are 128 random bits in 26 DNS-safe characters', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => LABEL_RE.test(base32(b))));
    const seen = new Set(Array.from({ length: 2000 }, () => randomLabel()));
    expect(seen.size).toBe(2000);
  });
});

describe('addressing', () => {
  const req = (host: string, url: string) => ({ headers: { host }, url });
  it('subdomain mode: the label is the first name part; the API answers on other names', () => {
    expect(targetOf(req('abc.gw.test:8443', '/tree'), 'subdomain', 'gw.test:8443')).toEqual({ kind: 'route', label: 'abc', basePath: '/' });
    expect(targetOf(req('a.b.gw.test', '/'), 'subdomain', 'gw.test')).toEqual({ kind: 'none' });
    expect(targetOf(req('gw.test', '/_hpcwrap/v1/routes'), 'subdomain', 'gw.test')).toEqual({ kind: 'api' });
    expect(targetOf(req('10.0.0.5:8443', '/_hpcwrap/v1/routes'), 'subdomain', 'gw.test')).toEqual({ kind: 'api' });
    expect(targetOf(req('abc.gw.test', '/_hpcwrap/v1/routes'), 'subdomain', 'gw.test')).toEqual({ kind: 'route', label: 'abc', basePath: '/' });
  });
  it('path mode: the label is the first path segment', () => {
    expect(targetOf(req('gw.test', '/abc/tree?x'), 'path', 'gw.test')).toEqual({ kind: 'route', label: 'abc', basePath: '/abc/' });
    expect(targetOf(req('gw.test', '/'), 'path', 'gw.test')).toEqual({ kind: 'none' });
    expect(targetOf(req('other.test', '/abc/'), 'path', 'gw.test')).toEqual({ kind: 'none' });
  });
  it('origin checks: safe methods pass; a foreign Origin or a same-site/cross-site fetch does not', () => {
    const own = 'https://abc.gw.test';
    const r = (method: string, headers: Record<string, string>) => ({ method, headers });
    expect(crossOrigin(r('GET', { origin: 'https://evil' }), own, false)).toBe(false);
    expect(crossOrigin(r('POST', {}), own, false)).toBe(false);
    expect(crossOrigin(r('POST', { origin: own }), own, false)).toBe(false);
    expect(crossOrigin(r('POST', { origin: 'https://xyz.gw.test' }), own, false)).toBe(true);
    expect(crossOrigin(r('DELETE', { 'sec-fetch-site': 'same-site' }), own, false)).toBe(true);
    expect(crossOrigin(r('GET', { origin: 'https://evil' }), own, true)).toBe(true);
  });
  it('the gateway cookie never reaches the notebook; the token never reaches the redirect target', () => {
    expect(stripCookie('__Host-hpcwrap=s; _xsrf=a; b=c', '__Host-hpcwrap')).toBe('_xsrf=a; b=c');
    expect(stripCookie('__Host-hpcwrap=s', '__Host-hpcwrap')).toBeUndefined();
    expect(withoutToken(`/tree?a=1&${TOKEN_PARAM}=t&b=2`, TOKEN_PARAM)).toBe('/tree?a=1&b=2');
  });
});

describe('the label table', () => {
  it('finds a label, and nothing for a miss, a near miss, another form or an empty string', () => {
    const t = new RouteTable();
    const label = randomLabel();
    t.add({ label, owner: 'alice', secretHash: secretHash('s'), jupyterToken: 'j', tokenHash: null, cookieHashes: [], jobId: '1', createdAt: '', tunnelPort: null, tunnelPublicKey: null });
    expect(t.find(label)?.record.owner).toBe('alice');
    const near = `${label.slice(0, 25)}${label.endsWith('a') ? 'b' : 'a'}`;
    for (const miss of [near, label.toUpperCase(), `${label}a`, '', '../x', randomLabel()]) expect(t.find(miss)).toBeNull();
  });
});

describe('admission', () => {
  it('allowFrom ranges and the per-address minute window', () => {
    const ranges = new AddressRanges(['10.1.0.0/24', 'fd00::/8']);
    expect(ranges.allows('10.1.0.7')).toBe(true);
    expect(ranges.allows('10.2.0.7')).toBe(false);
    expect(ranges.allows('fd00::1')).toBe(true);
    expect(ranges.allows('')).toBe(false);
    let now = 0;
    const lim = new RateLimiter(2, () => now);
    expect([lim.take('a'), lim.take('a'), lim.take('a'), lim.take('b')]).toEqual([true, true, false, true]);
    now = 60_000;
    expect(lim.take('a')).toBe(true);
  });
});

describe('Slurm: owners and comments (one squeue call)', () => {
  it('asks by users or by ids; parses owner, batch host and a comment that contains |', () => {
    expect(ownedJobsArgs({ users: ['alice', 'bob', 'alice'] })).toEqual(['--noheader', '--states=all', '--format=%i|%u|%T|%B|%k', '--users=alice,bob']);
    expect(ownedJobsArgs({ ids: ['5', '6;c2'] })).toEqual(['--noheader', '--states=all', '--format=%i|%u|%T|%B|%k', '--clusters=c2', '--jobs=5,6']);
    // recorded from the harness Slurm (squeue -h --states=all -o '%i|%u|%T|%B|%k')
    const out = '2|lchtest1|CANCELLED|vm|hpcwrap:abc:1234\n3|lchtest1|PENDING|n/a|(null)\n4|lchtest1|RUNNING|vm|a|b\n7_[1-3]|x|PENDING|n/a|(null)\n';
    expect(parseOwnedJobs(out)).toEqual([
      { id: '2', user: 'lchtest1', state: 'cancelled', node: 'vm', comment: 'hpcwrap:abc:1234' },
      { id: '3', user: 'lchtest1', state: 'pending', node: null, comment: null },
      { id: '4', user: 'lchtest1', state: 'running', node: 'vm', comment: 'a|b' },
    ]);
  });

  it('renders the new resources only when given (hub profiles keep their argv)', () => {
    const base = { partition: null, cpus: 1, memoryMB: null, gpus: 0, walltime: '01:00:00', account: null, qos: null, reservation: null, constraint: null, extraArgs: [] };
    expect(resourceOptions(base)).toEqual(['--cpus-per-task=1', '--time=01:00:00']);
    expect(resourceOptions({ ...base, nodes: 2, ntasksPerNode: 8, gpus: 1, gres: ['mps:50'] })).toEqual(['--cpus-per-task=1', '--nodes=2', '--ntasks-per-node=8', '--gres=gpu:1,mps:50', '--time=01:00:00']);
  });
});

describe('a gateway restart', () => {
  it('keeps routes, spent tokens and cookies (SQLite), and re-reads every job', async () => {
    const jobs = new ScriptedJobs();
    const secret = randomSecret();
    const token = randomSecret();
    jobs.set('42', { user: 'alice', comment: formatComment(secretHash(secret)) });
    const first = await gatewayFixture({}, { jobs });
    const ca = readFileSync(first.cert, 'utf8');
    const host = () => `gw.test:${first.gateway.port}`;
    const reg = await httpsTo(first.gateway.port, ca, { host: host(), path: '/_hpcwrap/v1/routes', method: 'POST', body: JSON.stringify({ version: 1, jobId: '42', secret, tokenHash: secretHash(token) }) });
    const { label } = JSON.parse(reg.body) as { label: string };
    const redeemed = await httpsTo(first.gateway.port, ca, { host: `${label}.${host()}`, path: `/?${TOKEN_PARAM}=${token}` });
    const cookie = String(redeemed.headers['set-cookie']).split(';')[0]!;
    await first.gateway.close();
    const { startGateway } = await import('../../../hub-bridge/gateway/gateway.js');
    const { loadHubBridgeConfig } = await import('../../../config/load.js');
    const again = await startGateway(loadHubBridgeConfig(`${first.dir}/hub-bridge.yaml`), { jobs });
    try {
      const h = `${label}.gw.test:${again.port}`;
      expect((await httpsTo(again.port, ca, { host: h, path: '/', headers: { cookie, accept: 'text/html' } })).status).toBe(200);
      expect((await httpsTo(again.port, ca, { host: h, path: `/?${TOKEN_PARAM}=${token}` })).status).toBe(403);
    } finally {
      await again.close();
    }
  });
});
