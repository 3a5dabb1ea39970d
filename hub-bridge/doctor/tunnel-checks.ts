// doctor's checks of the notebook tunnel: the endpoint's host key, the endpoint itself
// (listening, presenting that key), the name jobs use to reach it, and the port range.
// Nothing here changes anything.
import { readFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { createServer } from 'node:net';
import ssh2 from 'ssh2';
import type { HubBridgeConfig } from '../../config/schema.js';
import { writableOrCreatable } from '../../config/writable-path.js';
import { fingerprintOf, HostKeyError, readHostKey } from '../tunnel/host-key.js';
import type { CheckResult } from './doctor-checks.js';

const pass = (name: string, detail: string): CheckResult => ({ name, ok: true, detail });
const fail = (name: string, detail: string, fix: string): CheckResult => ({ name, ok: false, detail, fix });

export function checkTunnelHostKey(cfg: HubBridgeConfig): CheckResult {
  const name = 'tunnel host key';
  const file = cfg.tunnel.hostKeyFile;
  try {
    const key = readHostKey(file);
    return pass(name, `${file}: ${key.fingerprint} (mode 600; jobs pin it)`);
  } catch (err) {
    if ((err as Error).message.includes('ENOENT')) {
      const w = writableOrCreatable(file);
      return w.ok
        ? pass(name, `${file} does not exist yet; the bridge makes it on its first start`)
        : fail(name, `${file} does not exist and cannot be made: ${w.checked}: ${w.error}`, 'make the directory of tunnel.hostKeyFile writable by the account that runs hpc-bridge');
    }
    return fail(name, (err as Error).message, err instanceof HostKeyError ? 'see the message; the bridge refuses to start with this key' : 'check tunnel.hostKeyFile');
  }
}

/** The key an SSH server at host:port presents (the handshake is abandoned right after). */
export function presentedHostKey(host: string, port: number, timeoutMs = 5000): Promise<{ key: Buffer } | { error: string }> {
  return new Promise((resolve) => {
    const c = new ssh2.Client();
    let done = false;
    const finish = (r: { key: Buffer } | { error: string }) => {
      if (done) return;
      done = true;
      resolve(r);
      c.end();
    };
    c.on('error', (err) => finish({ error: err.message }));
    c.connect({
      host,
      port,
      username: 'doctor',
      readyTimeout: timeoutMs,
      algorithms: { serverHostKey: ['ssh-ed25519'] },
      hostVerifier: (key: Buffer) => {
        finish({ key });
        return false;
      },
    });
  });
}

export async function checkTunnelEndpoint(cfg: HubBridgeConfig): Promise<CheckResult[]> {
  const t = cfg.tunnel;
  const out: CheckResult[] = [];
  const host = t.listen.host === '0.0.0.0' ? '127.0.0.1' : t.listen.host === '::' ? '::1' : t.listen.host;
  let expected: string | null = null;
  try {
    expected = readHostKey(t.hostKeyFile).publicKey;
  } catch {
    /* reported by checkTunnelHostKey */
  }
  const r = await presentedHostKey(host, t.listen.port);
  if ('error' in r) {
    out.push(fail('tunnel endpoint', `nothing answers SSH on ${host}:${t.listen.port} (${r.error})`, 'start hpc-bridge serve with tunnel.enabled (it listens on tunnel.listen), or fix tunnel.listen'));
  } else {
    const got = `ssh-ed25519 ${r.key.toString('base64')}`;
    out.push(
      expected === null || got === expected
        ? pass('tunnel endpoint', `${t.listen.host}:${t.listen.port} answers with host key ${fingerprintOf(got)}`)
        : fail('tunnel endpoint', `${host}:${t.listen.port} presents ${fingerprintOf(got)}, not the key in ${t.hostKeyFile} (${fingerprintOf(expected)})`, 'another program listens on tunnel.listen.port: choose a free port'),
    );
  }
  const publicHost = t.publicHost ?? '(unset)';
  const publicPort = t.publicPort ?? t.listen.port;
  try {
    const addrs = t.publicHost ? await lookup(t.publicHost, { all: true }) : [];
    out.push(
      addrs.length
        ? pass('tunnel public address', `jobs connect to ${publicHost}:${publicPort} (${addrs.map((a) => a.address).join(', ')} here); open it in the firewall from the compute nodes`)
        : fail('tunnel public address', 'tunnel.publicHost is not set', 'set tunnel.publicHost to the name or address compute nodes use to reach this host'),
    );
  } catch (err) {
    out.push(fail('tunnel public address', `${publicHost} does not resolve here: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'set tunnel.publicHost to a name or address the compute nodes can reach'));
  }
  return out;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** net.ipv4.ip_unprivileged_port_start: ports below it need root or CAP_NET_BIND_SERVICE to bind. */
export function unprivilegedPortStart(file = '/proc/sys/net/ipv4/ip_unprivileged_port_start'): number {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || 1024;
  } catch {
    return 1024;
  }
}

export async function checkPortRange(cfg: HubBridgeConfig, inUseBySessions: number): Promise<CheckResult> {
  const name = 'tunnel port range';
  let free = 0;
  const total = cfg.ports.end - cfg.ports.start + 1;
  for (let p = cfg.ports.start; p <= cfg.ports.end; p++) if (await portFree(p)) free++;
  // Bound ports are the live sessions' (the bridge holds them) or other programs': only a
  // range close to exhaustion is a problem, the bridge skips the others.
  const taken = total - free;
  const privileged = cfg.ports.end < unprivilegedPortStart();
  const detail =
    `${free} of ${total} ports free (${inUseBySessions} held for live sessions, ${Math.max(0, taken - inUseBySessions)} bound by other programs); ` +
    (privileged
      ? 'below net.ipv4.ip_unprivileged_port_start: no unprivileged account can bind them, even while the bridge is down'
      : 'other accounts could bind a session\'s port while the bridge is down (docs/tunnel.md, "Restarts")');
  if (free === 0 && inUseBySessions < total) return fail(name, `none of ${cfg.ports.start}-${cfg.ports.end} is free: ${detail}`, 'choose a wider range (ports) no other service uses');
  if (free < Math.max(2, Math.ceil(total / 10))) return fail(name, detail, 'widen the range (ports): new sessions will soon find no port');
  return pass(name, detail);
}
