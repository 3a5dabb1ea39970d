// The live sessions' tunnel keys, in memory (rebuilt from the database on start-up): the
// endpoint looks a presented key up by its blob. Plus what a grant contains and the small
// computations around it (expiry, the hub API port, the known_hosts line jobs pin).
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import ssh2 from 'ssh2';
import type { Resources } from '../../config/schema.js';
import type { EndpointKey } from './endpoint-policy.js';

/** What the job's tunnel agent needs (the startjob document's `tunnel`; privateKey is SECRET). */
export interface TunnelGrant {
  host: string;
  port: number;
  user: string;
  hostKeys: string[];
  remotePort: number;
  /** Absent: the endpoint forwards to no API (the gateway's). */
  hubApiPort?: number;
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

/** The known_hosts line a job pins for the endpoint (`host` alone for port 22, else `[host]:port`). */
export function knownHostsLine(host: string, port: number, publicKey: string): string {
  return `${port === 22 ? host : `[${host}]:${port}`} ${publicKey}`;
}

/** When a key stops being valid: wall time plus the margin after `from`. */
export function expiryFrom(from: number, walltime: Resources['walltime'], marginSeconds: number): string {
  return new Date(from + (walltimeSeconds(walltime) + marginSeconds) * 1000).toISOString();
}

export class KeyError extends Error {}

export class TunnelKeyRegistry {
  private readonly byBlob = new Map<string, EndpointKey>();
  private readonly bySession = new Map<string, EndpointKey>();

  /** Registers a session's public key (`ssh-ed25519 AAAA…`) for its port until `expiresAt`. */
  add(sessionId: string, publicKey: string, port: number, expiresAt: string): EndpointKey {
    const parsed = ssh2.utils.parseKey(publicKey);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (!key || key instanceof Error || key.type !== 'ssh-ed25519') throw new KeyError(`session ${sessionId}: its tunnel public key is not an ed25519 key`);
    this.remove(sessionId);
    // parsed once: ssh2's own verify() parses the PEM on every call (~1 ms, a reconnect storm's bottleneck)
    const keyObject = createPublicKey(key.getPublicPEM());
    const entry: EndpointKey = {
      sessionId,
      port,
      expiresAtMs: Date.parse(expiresAt),
      blob: key.getPublicSSH(),
      verify: (data, signature) => {
        try {
          return verifySignature(null, data, keyObject, signature);
        } catch {
          return false;
        }
      },
    };
    this.byBlob.set(entry.blob.toString('base64'), entry);
    this.bySession.set(sessionId, entry);
    return entry;
  }

  lookup = (blob: Buffer): EndpointKey | undefined => this.byBlob.get(blob.toString('base64'));

  get(sessionId: string): EndpointKey | undefined {
    return this.bySession.get(sessionId);
  }

  extend(sessionId: string, expiresAt: string): void {
    const e = this.bySession.get(sessionId);
    if (e) e.expiresAtMs = Date.parse(expiresAt);
  }

  /** Revokes the key: from now on it cannot log in. */
  remove(sessionId: string): void {
    const e = this.bySession.get(sessionId);
    if (!e) return;
    this.bySession.delete(sessionId);
    this.byBlob.delete(e.blob.toString('base64'));
  }

  /** Keys whose expiry has passed (their connections are to be cut). */
  expired(now = Date.now()): EndpointKey[] {
    return [...this.bySession.values()].filter((e) => e.expiresAtMs <= now);
  }

  get size(): number {
    return this.bySession.size;
  }
}
