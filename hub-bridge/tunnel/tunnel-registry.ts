// TunnelKeyRegistry: hands each session a hub-side loopback port and a fresh key pair, and
// keeps the keyset file (what sshd's AuthorizedKeysCommand reads) equal to the live
// sessions' keys. A key expires at the job's wall-time end plus a margin, so a stopped
// bridge cannot leave a door open, and a restarting one does not break a live tunnel.
import { readFileSync } from 'node:fs';
import type { HubBridgeConfig, Resources } from '../../config/schema.js';
import type { SessionStore } from '../store/session-store.js';
import { writeKeyset } from './keyset-file.js';
import { allocatePort } from './port-allocator.js';
import { generateTunnelKey } from './tunnel-keys.js';

/** What the job's tunnel agent needs (the startjob document's `tunnel`; privateKey is SECRET). */
export interface TunnelGrant {
  host: string;
  port: number;
  user: string;
  hostKeys: string[];
  remotePort: number;
  hubApiPort: number;
  keepaliveIntervalSeconds: number;
  privateKey: string;
  publicKey: string;
  expiresAt: string;
}

/** The startjob document's `tunnel`: the grant without what only the bridge keeps. */
export type TunnelDocument = Omit<TunnelGrant, 'publicKey' | 'expiresAt'>;

export function tunnelDocument(g: TunnelGrant): TunnelDocument {
  const { publicKey: _p, expiresAt: _e, ...doc } = g;
  return doc;
}

/** Slurm time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S → seconds. */
export function walltimeSeconds(t: string): number {
  const [d, rest] = t.includes('-') ? [Number(t.split('-')[0]), t.split('-')[1]!] : [0, t];
  const parts = rest.split(':').map(Number);
  let s: number;
  if (t.includes('-')) {
    const [h = 0, m = 0, sec = 0] = parts;
    s = h * 3600 + m * 60 + sec;
  } else if (parts.length === 1) s = parts[0]! * 60;
  else if (parts.length === 2) s = parts[0]! * 60 + parts[1]!;
  else s = parts[0]! * 3600 + parts[1]! * 60 + parts[2]!;
  return d * 86400 + s;
}

/** The port JupyterHub's API listens on, from hubApiUrl (it must be on this host's loopback). */
export function hubApiPort(hubApiUrl: string): number {
  const u = new URL(hubApiUrl);
  if (u.port) return Number(u.port);
  return u.protocol === 'https:' ? 443 : 80;
}

/** known_hosts lines for the hub's sshd, from its public host key files. */
export function hostKeyLines(files: string[], host: string, port: number): string[] {
  const pattern = port === 22 ? host : `[${host}]:${port}`;
  return files.map((f) => {
    const [type, blob] = readFileSync(f, 'utf8').trim().split(/\s+/);
    if (!type || !blob) throw new Error(`${f} (tunnel.hostKeyFiles) is not an SSH public key file`);
    return `${pattern} ${type} ${blob}`;
  });
}

export class TunnelKeyRegistry {
  private readonly reserved = new Set<number>();
  private readonly apiPort: number;
  private readonly hostKeys: string[];

  constructor(
    private readonly config: HubBridgeConfig,
    private readonly store: SessionStore,
  ) {
    this.apiPort = hubApiPort(config.hubApiUrl);
    this.hostKeys = hostKeyLines(config.tunnel.hostKeyFiles, config.tunnel.sshHost, config.tunnel.sshPort);
  }

  /** Ports held by live sessions (and grants being made right now). */
  private inUse(): Set<number> {
    const ports = new Set(this.reserved);
    for (const s of this.store.live()) if (s.tunnelPort !== null) ports.add(s.tunnelPort);
    return ports;
  }

  /** A port and key for a new session; call commit() once the session row holds them. */
  async grant(resources: Resources): Promise<TunnelGrant> {
    const remotePort = await allocatePort(this.config.ports, this.inUse());
    this.reserved.add(remotePort);
    const key = generateTunnelKey();
    const t = this.config.tunnel;
    const expiresAt = this.expiryFrom(Date.now(), resources.walltime);
    return {
      host: t.sshHost,
      port: t.sshPort,
      user: t.user,
      hostKeys: this.hostKeys,
      remotePort,
      hubApiPort: this.apiPort,
      keepaliveIntervalSeconds: t.keepaliveIntervalSeconds,
      privateKey: key.privateKey,
      publicKey: key.publicKey,
      expiresAt,
    };
  }

  /** When a key stops being valid: wall time plus the margin after `from`. */
  expiryFrom(from: number, walltime: string): string {
    return new Date(from + (walltimeSeconds(walltime) + this.config.tunnel.keyLifetimeMarginSeconds) * 1000).toISOString();
  }

  /**
   * The job started: its key stays valid for its wall time from NOW (a long queue wait
   * must not eat into it), then expires even if the bridge is down.
   */
  jobStarted(sessionId: string, walltime: string): void {
    this.store.update(sessionId, { tunnelExpiresAt: this.expiryFrom(Date.now(), walltime) });
    this.sync();
  }

  /** The grant is recorded in the session row (or abandoned): rewrite the keyset. */
  commit(grant: TunnelGrant): void {
    this.reserved.delete(grant.remotePort);
    this.sync();
  }

  /** Writes the keyset: exactly the live sessions' unexpired keys. */
  sync(): void {
    const now = Date.now();
    const keys = this.store
      .live()
      .filter((s) => s.tunnelPort !== null && s.tunnelPublicKey && s.tunnelExpiresAt && Date.parse(s.tunnelExpiresAt) > now)
      .map((s) => ({ publicKey: s.tunnelPublicKey!, port: s.tunnelPort!, expiresAt: s.tunnelExpiresAt!, sessionId: s.id }));
    writeKeyset(this.config.tunnel.keysetFile, { version: 1, apiPort: this.apiPort, keys });
  }
}
