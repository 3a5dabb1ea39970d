// An in-process ssh2 server standing in for the hub host's sshd and its tunnel account
// (the system suite has the real one): accepts only the job's key, grants the reverse
// forward (or refuses the first `refuseForwards` requests, as sshd does while a dropped
// connection still holds the port), opens direct-tcpip channels only to 127.0.0.1:apiPort
// (the key's permitopen), and can open a connection to the client's forward, as sshd does
// when the hub's proxy connects to 127.0.0.1:remotePort.
import { connect as tcpConnect, type AddressInfo } from 'node:net';
import ssh2 from 'ssh2';

export interface FakeSshHub {
  port: number;
  /** tcpip-forward requests refused so far. */
  refusedForwards: number;
  /** The bind port of the last granted tcpip-forward (the agent's remotePort), or null. */
  forwardedPort(): number | null;
  /** direct-tcpip channels opened to the API port (node → hub API). */
  apiChannels: number;
  /** GETs `path` through the client's forward; resolves with the body after the headers. */
  fetchThroughForward(path: string): Promise<string>;
  dropClients(): void;
  close(): Promise<void>;
}

export interface FakeSshHubOptions {
  hostPrivateKey: string;
  /** The only client key accepted (its private half; the public part is derived). */
  clientPrivateKey: string;
  refuseForwards?: number;
  apiPort: number;
}

export async function startFakeSshHub(o: FakeSshHubOptions): Promise<FakeSshHub> {
  const allowed = (ssh2.utils.parseKey(o.clientPrivateKey) as ssh2.ParsedKey).getPublicSSH();
  const conns = new Set<ssh2.Connection>();
  let forwarded: { conn: ssh2.Connection; port: number } | null = null;
  const hub: FakeSshHub = {
    port: 0,
    refusedForwards: 0,
    apiChannels: 0,
    forwardedPort: () => forwarded?.port ?? null,
    fetchThroughForward: (path) =>
      new Promise((resolve, reject) => {
        if (!forwarded) return reject(new Error('no forward'));
        forwarded.conn.forwardOut('127.0.0.1', forwarded.port, '127.0.0.1', 55555, (err, ch) => {
          if (err) return reject(err);
          let data = '';
          ch.on('data', (d: Buffer) => (data += d));
          ch.on('close', () => resolve(data.slice(data.indexOf('\r\n\r\n') + 4)));
          ch.end(`GET ${path} HTTP/1.0\r\n\r\n`);
        });
      }),
    dropClients: () => conns.forEach((c) => c.end()),
    close: () =>
      new Promise((r) => {
        conns.forEach((c) => c.end());
        server.close(() => r());
      }),
  };
  const server = new ssh2.Server({ hostKeys: [o.hostPrivateKey] }, (conn) => {
    conns.add(conn);
    conn.on('close', () => {
      conns.delete(conn);
      if (forwarded?.conn === conn) forwarded = null;
    });
    conn.on('error', () => {});
    conn.on('authentication', (ctx) => {
      if (ctx.method === 'publickey' && ctx.key.data.equals(allowed)) return ctx.accept();
      ctx.reject(['publickey']);
    });
    conn.on('request', (accept, reject, name, info) => {
      if (name !== 'tcpip-forward') return reject?.();
      if (hub.refusedForwards < (o.refuseForwards ?? 0)) {
        hub.refusedForwards++;
        return reject?.();
      }
      forwarded = { conn, port: (info as { bindPort: number }).bindPort };
      accept?.();
    });
    conn.on('tcpip', (accept, reject, info) => {
      if (info.destPort !== o.apiPort || info.destIP !== '127.0.0.1') return reject();
      hub.apiChannels++;
      const ch = accept();
      const sock = tcpConnect(o.apiPort, '127.0.0.1');
      sock.on('error', () => ch.destroy());
      ch.pipe(sock).pipe(ch);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hub.port = (server.address() as AddressInfo).port;
  return hub;
}
