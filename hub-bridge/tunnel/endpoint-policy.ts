// What a tunnel key may do at the bridge's SSH endpoint, as pure decisions (the endpoint
// applies them; unit tests pin them down). A job's key may authenticate as the virtual
// tunnel user with a valid signature while its session lives, listen on exactly its own
// 127.0.0.1:P, and open exactly 127.0.0.1:<hub API port> (plus the endpoint's own status
// channel). Everything else is refused: passwords, keyboard-interactive, shells, exec,
// subsystems (sftp), other listen addresses or ports, other destinations, other names for
// the same destination ("localhost", "::1"), Unix sockets.
import { STATUS_CHANNEL } from '../../contract/tunnel.js';

export { FORWARD_UP, parseStatusPush, STATUS_CHANNEL, type StatusPush } from '../../contract/tunnel.js';

/** A live session's key as the endpoint knows it. */
export interface EndpointKey {
  sessionId: string;
  /** The hub-side loopback port this key may listen on. */
  port: number;
  /** Epoch ms; refused from then on. */
  expiresAtMs: number;
  /** The public key's wire blob. */
  blob: Buffer;
  /** Checks a signature by this key over `data` (ed25519). */
  verify(data: Buffer, signature: Buffer): boolean;
}

export interface AuthRequest {
  username: string;
  method: string;
  /** publickey only: the key's algorithm and wire blob, and the signature if one came. */
  keyAlgo?: string;
  keyData?: Buffer;
  signature?: Buffer;
  signedData?: Buffer;
  hashAlgo?: string;
}

export type AuthDecision =
  /** A key query without signature for a usable key: answer "this key would do" (PK_OK). */
  | { kind: 'query'; grant: EndpointKey }
  | { kind: 'accept'; grant: EndpointKey }
  | { kind: 'refuse'; why: string };

export const KEY_ALGORITHM = 'ssh-ed25519';

export function decideAuth(req: AuthRequest, user: string, lookup: (blob: Buffer) => EndpointKey | undefined, now: number): AuthDecision {
  if (req.method !== 'publickey') return { kind: 'refuse', why: `method ${req.method} is not offered (publickey only)` };
  if (req.username !== user) return { kind: 'refuse', why: `user ${JSON.stringify(req.username.slice(0, 64))} is not the tunnel user` };
  if (req.keyAlgo !== KEY_ALGORITHM || !req.keyData) return { kind: 'refuse', why: `key type ${req.keyAlgo ?? '?'} is not used for tunnels` };
  const grant = lookup(req.keyData);
  if (!grant) return { kind: 'refuse', why: 'not the key of a live session' };
  if (grant.expiresAtMs <= now) return { kind: 'refuse', why: `the key of session ${grant.sessionId} expired` };
  if (!req.signature) return { kind: 'query', grant };
  if (!req.signedData || !grant.verify(req.signedData, req.signature)) {
    return { kind: 'refuse', why: `bad signature for the key of session ${grant.sessionId}` };
  }
  return { kind: 'accept', grant };
}

/** tcpip-forward: only 127.0.0.1:<the key's own port>. Returns why not, or null when allowed. */
export function forwardRefusal(grant: Pick<EndpointKey, 'sessionId' | 'port'>, bindAddr: string, bindPort: number): string | null {
  if (bindAddr === '127.0.0.1' && bindPort === grant.port) return null;
  return `listen on ${bindAddr}:${bindPort} (session ${grant.sessionId} may listen on 127.0.0.1:${grant.port} only)`;
}

export type DirectDecision = 'hub-api' | 'status' | 'refuse';

/** direct-tcpip: exactly 127.0.0.1:<hub API port> (none when null: the gateway's endpoint), or the status channel. */
export function decideDirect(destIP: string, destPort: number, apiPort: number | null): DirectDecision {
  if (apiPort !== null && destIP === '127.0.0.1' && destPort === apiPort) return 'hub-api';
  if (destIP === STATUS_CHANNEL.host && destPort === STATUS_CHANNEL.port) return 'status';
  return 'refuse';
}
