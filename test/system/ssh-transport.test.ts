// SshTransport against a real OpenSSH sshd on loopback (MaxSessions 10) with a service
// account and a per-run ed25519 client key. Needs root.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hubBridgeSchema, type SshTransportConfig } from '../../config/schema.js';
import { SshTransport } from '../../hub-bridge/transport/ssh-transport.js';
import { TransportError } from '../../hub-bridge/transport/types.js';
import { REPO } from './bridge-process.js';
import { authorizeKey, ensureUser, isAlive, makeClientKey, run, sleep, startSshd, waitFor, type Sshd, type UserInfo } from './harness/index.js';

const SVC = 'hpcbridge-svc';
const NODE = '/usr/bin/node';

let dir: string;
let sshd: Sshd;
let svc: UserInfo;
let identityFile: string;
let knownHostsFile: string;
let hostFingerprint: string;
const open: SshTransport[] = [];

function transportConfig(over: Partial<SshTransportConfig> = {}): SshTransportConfig {
  const cfg = hubBridgeSchema.parse({
    cluster: {
      hpcWrap: ['/opt/hpc-wrap/hpc-wrap'],
      transport: { kind: 'ssh', host: '127.0.0.1', port: sshd.port, user: SVC, identityFile, knownHostsFile, ...over },
    },
  });
  return cfg.cluster.transport as SshTransportConfig;
}

function transport(over: Partial<SshTransportConfig> = {}): SshTransport {
  const t = new SshTransport(transportConfig(over), { configFile: path.join(dir, 'hub-bridge.yaml') });
  open.push(t);
  return t;
}

/** Runs the hpc-bridge CLI from source, as an admin would. */
function cli(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(REPO, 'hub-bridge/cli.ts'), ...args], { cwd: REPO }, (err, stdout, stderr) => {
      const code = err ? Number((err as { code?: unknown }).code ?? 1) : 0;
      resolve({ code, out: stdout + stderr });
    });
  });
}

beforeAll(async () => {
  dir = mkdtempSync('/tmp/ssh-transport-');
  chmodSync(dir, 0o711);
  svc = await ensureUser(SVC);
  sshd = await startSshd({ dir: path.join(dir, 'sshd'), maxSessions: 10 });
  const client = await makeClientKey(path.join(dir, 'client_key'));
  identityFile = client.privateKeyFile;
  await authorizeKey(SVC, client.publicKey);
  knownHostsFile = path.join(dir, 'known_hosts');
  writeFileSync(knownHostsFile, `${sshd.knownHostsLine()}\n`, { mode: 0o600 });
  const fp = await run(['ssh-keygen', '-lf', path.join(sshd.dir, 'ssh_host_ed25519_key.pub')]);
  hostFingerprint = fp.stdout.split(' ')[1]!;
  expect(hostFingerprint).toMatch(/^SHA256:/);
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

afterAll(async () => {
  try {
    await sshd?.stop();
    expect(sshd ? isAlive(sshd.pid) : false).toBe(false);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

describe('commands over SSH', () => {
  it('keeps every argument one argv element, carries stdin, stdout, stderr and exit codes', async () => {
    const t = transport();
    const marker = path.join(dir, 'pwned');
    const weird = ['a b', "it's", '"dq"', '$(id)', '`id`', `x; touch ${marker}`, '*', '', '\\', '$HOME', '| cat', '&&', 'é ü', '-n', "'", "''\\''"];
    const echo = await t.run([NODE, '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', '--', ...weird], { timeoutMs: 20_000 });
    expect(echo.exitCode).toBe(0);
    expect(JSON.parse(echo.stdout)).toEqual(weird);
    expect(existsSync(marker)).toBe(false);

    const big = `${'x'.repeat(1024 * 1024)}\nend\n`;
    const cat = await t.run(['cat'], { stdin: big, timeoutMs: 20_000 });
    expect(cat).toEqual({ exitCode: 0, stdout: big, stderr: '' });

    const fail = await t.run([NODE, '-e', 'process.stderr.write("bad input"); process.exit(7)'], { timeoutMs: 20_000 });
    expect(fail).toEqual({ exitCode: 7, stdout: '', stderr: 'bad input' });

    await expect(t.run(['echo', 'two\nlines'], { timeoutMs: 5_000 })).rejects.toThrow(/newline/);
  });

  it('reports a command killed by a signal, and a timeout, as TransportError (and kills the timed-out command)', async () => {
    const t = transport();
    const killed = t.run([NODE, '-e', 'process.kill(process.pid, "SIGKILL")'], { timeoutMs: 20_000 });
    await expect(killed).rejects.toBeInstanceOf(TransportError);
    await expect(killed).rejects.toThrow(/signal SIGKILL/);

    const tag = `sleeper-${process.pid}-${Date.now()}`;
    const slow = t.run([NODE, '-e', 'setTimeout(() => {}, 30000)', tag], { timeoutMs: 1_500 });
    await expect(slow).rejects.toThrow(/did not finish within 1500 ms/);
    const running = () =>
      readdirSync('/proc').filter((p) => /^\d+$/.test(p)).some((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(tag);
        } catch {
          return false;
        }
      });
    await waitFor(() => !running(), { timeoutMs: 5_000, intervalMs: 100, onTimeout: () => 'the timed-out command still runs on the server' });
    // the pool still works afterwards
    expect((await t.run(['true'], { timeoutMs: 10_000 })).exitCode).toBe(0);
  });

  it('runs 100 concurrent commands over a pool of connections with MaxSessions 10: each exactly once', async () => {
    const t = transport();
    const log = path.join(dir, 'concurrent.log');
    writeFileSync(log, '');
    chownSync(log, svc.uid, svc.gid);
    const script = `require("fs").appendFileSync(${JSON.stringify(log)}, process.argv[1] + "\\n"); setTimeout(() => process.stdout.write(process.argv[1]), 200)`;
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => t.run([NODE, '-e', script, String(i)], { timeoutMs: 120_000 })),
    );
    const ms = Date.now() - started;
    expect(results.map((r) => r.exitCode)).toEqual(Array(100).fill(0));
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
    const ran = readFileSync(log, 'utf8').trim().split('\n').map(Number).sort((a, b) => a - b);
    expect(ran).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const s = t.stats();
    expect(s.opened).toBeGreaterThan(1);
    expect(s.opened).toBeLessThanOrEqual(4);
    console.log(`100 commands in ${ms} ms over ${s.opened} connections (${s.refusedChannels} channel opens refused by sshd and retried)`);
  });

  it('retries channels the server refuses when it allows fewer sessions than configured', async () => {
    const small = await startSshd({ dir: path.join(dir, 'sshd-small'), maxSessions: 2 });
    try {
      writeFileSync(path.join(dir, 'known_hosts_small'), `${small.knownHostsLine()}\n`, { mode: 0o600 });
      const t = transport({ port: small.port, knownHostsFile: path.join(dir, 'known_hosts_small'), maxConnections: 2, maxSessionsPerConnection: 10 });
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => t.run([NODE, '-e', 'setTimeout(() => process.stdout.write(process.argv[1]), 100)', String(i)], { timeoutMs: 60_000 })),
      );
      expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
      expect(t.stats().refusedChannels).toBeGreaterThan(0);
      await t.close();
    } finally {
      await small.stop();
    }
  });

  it('rejects commands beyond maxQueue at once with "queue full"', async () => {
    const t = transport({ maxConnections: 1, maxSessionsPerConnection: 1, maxQueue: 2 });
    const slow = () => t.run([NODE, '-e', 'setTimeout(() => process.stdout.write("ok"), 300)'], { timeoutMs: 30_000 });
    const first = slow();
    await waitFor(() => t.stats().running === 1, { timeoutMs: 10_000, intervalMs: 20 });
    const queued = [slow(), slow()];
    await expect(slow()).rejects.toThrow(/queue full.*maxQueue/);
    const all = await Promise.all([first, ...queued]);
    expect(all.map((r) => r.stdout)).toEqual(['ok', 'ok', 'ok']);
  });

  it('never puts the stdin secret on any command line', async () => {
    const t = transport();
    const secret = `s3cret-${Math.random().toString(36).slice(2)}-${Date.now()}`;
    const reader = 'let d = ""; process.stdin.on("data", (c) => (d += c)).on("end", () => setTimeout(() => process.stdout.write(require("crypto").createHash("sha256").update(d).digest("hex")), 1500))';
    const pending = t.run([NODE, '-e', reader], { stdin: secret, timeoutMs: 20_000 });
    let scans = 0;
    let seen: string | null = null;
    let done = false;
    void pending.finally(() => (done = true)).catch(() => {});
    while (!done) {
      for (const p of readdirSync('/proc')) {
        if (!/^\d+$/.test(p)) continue;
        try {
          if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(secret)) seen = p;
        } catch {
          /* exited */
        }
      }
      scans++;
      await sleep(50);
    }
    const r = await pending;
    const { createHash } = await import('node:crypto');
    expect(r.stdout).toBe(createHash('sha256').update(secret).digest('hex'));
    expect(scans).toBeGreaterThan(5);
    expect(seen).toBeNull();
    expect(sshd.logs()).not.toContain(secret);
  });

  it('in identity sudo, prefixes commands that carry asUser with sudoCommand USER --', async () => {
    // test double for sudo (not installed here): prints the argv it got
    const fakeSudo = path.join(dir, 'fake-sudo.js');
    writeFileSync(fakeSudo, 'process.stdout.write(JSON.stringify(process.argv.slice(2)))\n', { mode: 0o644 });
    const t = transport({ identity: 'sudo', sudoCommand: [NODE, fakeSudo, '-n', '-u'] });
    const r = await t.run(['/opt/hpc-wrap/hpc-wrap', 'killjob', '12'], { asUser: 'alice@example.org', timeoutMs: 20_000 });
    expect(JSON.parse(r.stdout)).toEqual(['-n', '-u', 'alice@example.org', '--', '/opt/hpc-wrap/hpc-wrap', 'killjob', '12']);
    await expect(t.run(['x'], { asUser: '-oProxyCommand=x', timeoutMs: 5_000 })).rejects.toThrow(/not allowed/);
  });
});

describe('host keys', () => {
  it('refuses an unknown key with its fingerprint and the trust command; cluster trust records it', async () => {
    const khDir = path.join(dir, 'trust', 'ssh');
    const khFile = path.join(khDir, 'known_hosts');
    const configFile = path.join(dir, 'trust-hub-bridge.yaml');
    writeFileSync(
      configFile,
      [
        'cluster:',
        '  hpcWrap: ["/opt/hpc-wrap/hpc-wrap"]',
        '  transport:',
        '    kind: ssh',
        '    host: 127.0.0.1',
        `    port: ${sshd.port}`,
        `    user: ${SVC}`,
        `    identityFile: ${identityFile}`,
        `    knownHostsFile: ${khFile}`,
        '',
      ].join('\n'),
    );
    const t = new SshTransport(transportConfig({ knownHostsFile: khFile }), { configFile });
    open.push(t);
    const refused = t.run(['true'], { timeoutMs: 10_000 });
    await expect(refused).rejects.toBeInstanceOf(TransportError);
    const msg = await refused.catch((e: Error) => e.message);
    expect(msg).toContain(hostFingerprint);
    expect(msg).toContain(`hpc-bridge --config ${configFile} cluster trust`);

    const ask = await cli(['--config', configFile, 'cluster', 'trust']);
    expect(ask.code).toBe(3);
    expect(ask.out).toContain(hostFingerprint);
    expect(ask.out).toContain(`--fingerprint ${hostFingerprint}`);
    expect(existsSync(khFile)).toBe(false);

    const wrong = await cli(['--config', configFile, 'cluster', 'trust', '--fingerprint', `SHA256:${'A'.repeat(43)}`]);
    expect(wrong.code).toBe(4);
    expect(existsSync(khFile)).toBe(false);

    const yes = await cli(['--config', configFile, 'cluster', 'trust', '--yes']);
    expect(yes.code).toBe(0);
    expect(readFileSync(khFile, 'utf8')).toBe(`${sshd.knownHostsLine()}\n`);
    expect(statSync(khFile).mode & 0o777).toBe(0o600);
    expect(statSync(khDir).mode & 0o777).toBe(0o700);

    // the same transport connects once its backoff after the refusal has passed
    const ok = await waitFor(() => t.run(['echo', 'trusted'], { timeoutMs: 10_000 }).catch(() => null), { timeoutMs: 15_000, intervalMs: 300 });
    expect(ok.stdout).toBe('trusted\n');
    const again = await cli(['--config', configFile, 'cluster', 'trust', '--fingerprint', hostFingerprint]);
    expect(again.code).toBe(0);
    expect(again.out).toContain('already trusted');
  });

  it('refuses a CHANGED key, and cluster trust does not replace it', async () => {
    const other = await makeClientKey(path.join(dir, 'other_host_key'), 'other');
    const khFile = path.join(dir, 'changed_known_hosts');
    const line = `[127.0.0.1]:${sshd.port} ${other.publicKey.split(' ').slice(0, 2).join(' ')}\n`;
    writeFileSync(khFile, line, { mode: 0o600 });
    const t = transport({ knownHostsFile: khFile });
    const msg = await t.run(['true'], { timeoutMs: 10_000 }).then(
      () => 'connected',
      (e: Error) => e.message,
    );
    expect(msg).toContain('CHANGED');
    expect(msg).toContain('attack');
    expect(msg).toContain(hostFingerprint);
    expect(msg).not.toContain('--fingerprint');

    const configFile = path.join(dir, 'changed-hub-bridge.yaml');
    writeFileSync(
      configFile,
      `cluster: {hpcWrap: ["/opt/hpc-wrap/hpc-wrap"], transport: {kind: ssh, host: 127.0.0.1, port: ${sshd.port}, user: ${SVC}, identityFile: ${identityFile}, knownHostsFile: ${khFile}}}\n`,
    );
    const yes = await cli(['--config', configFile, 'cluster', 'trust', '--yes']);
    expect(yes.code).toBe(4);
    expect(yes.out).toContain('CHANGED');
    expect(readFileSync(khFile, 'utf8')).toBe(line);
  });

  it('refuses an identity file that others can read, saying how to fix it', async () => {
    const loose = path.join(dir, 'loose_key');
    writeFileSync(loose, readFileSync(identityFile), { mode: 0o644 });
    chmodSync(loose, 0o644);
    expect(() => transport({ identityFile: loose })).toThrow(/mode 0644.*chmod 600/);
  });
});

describe('connection loss', () => {
  it('fails the command in flight on a dropped connection and reconnects for the next one', async () => {
    const t = transport();
    expect((await t.run(['true'], { timeoutMs: 10_000 })).exitCode).toBe(0);
    // the handler is attached at once: the rejection may come while the drop is awaited
    const inFlight = t.run([NODE, '-e', 'setTimeout(() => {}, 5000)'], { timeoutMs: 20_000 }).catch((e: unknown) => e);
    await sleep(300);
    const sessions = sshd.sessionProcesses();
    expect(sessions).toHaveLength(1);
    await sshd.dropConnection(sessions[0]!.pid);
    const failure = await inFlight;
    expect(failure).toBeInstanceOf(TransportError);
    expect((failure as Error).message).toMatch(/lost/);
    const r = await t.run(['echo', 'back'], { timeoutMs: 20_000 });
    expect(r.stdout).toBe('back\n');
    expect(t.stats()).toMatchObject({ opened: 2, dropped: 1 });
  });

  it('drops a connection whose server stops answering keepalives, and reconnects', async () => {
    const t = transport({ keepaliveIntervalSeconds: 0.5, keepaliveCountMax: 2 });
    await t.run(['true'], { timeoutMs: 10_000 });
    const sessions = sshd.sessionProcesses();
    expect(sessions).toHaveLength(1);
    const frozen = [sessions[0]!.pid, ...sessions[0]!.descendants];
    for (const p of frozen) process.kill(p, 'SIGSTOP');
    try {
      await waitFor(() => t.stats().dropped === 1, { timeoutMs: 10_000, intervalMs: 100, onTimeout: () => JSON.stringify(t.stats()) });
    } finally {
      // thawed, the session sees the closed socket and ends by itself
      for (const p of frozen) process.kill(p, 'SIGCONT');
    }
    expect((await t.run(['echo', 'back'], { timeoutMs: 20_000 })).stdout).toBe('back\n');
    expect(t.stats()).toMatchObject({ opened: 2, dropped: 1 });
  });

  it('closes connections that stayed idle for idleSeconds', async () => {
    const t = transport({ idleSeconds: 1 });
    await t.run(['true'], { timeoutMs: 10_000 });
    expect(t.stats().ready).toBe(1);
    await waitFor(() => t.stats().ready === 0 && sshd.sessionProcesses().length === 0, {
      timeoutMs: 5_000,
      intervalMs: 100,
      onTimeout: () => `still open: ${JSON.stringify(t.stats())}, ${sshd.sessionProcesses().length} sshd session processes`,
    });
    expect((await t.run(['echo', 'again'], { timeoutMs: 10_000 })).stdout).toBe('again\n');
    expect(t.stats()).toMatchObject({ opened: 2, dropped: 0 });
  });
});
