// The `tunnel` part of the startjob document (docs/contracts.md §2) and of job.json: how
// the job's tunnel agent reaches the bridge's tunnel endpoint. Not secret; the private key
// travels next to it in the request (`tunnel.privateKey`) but is split off into the
// spool's 0600 secrets file by startjob and never written to job.json. Also the agent's
// status channel to the endpoint (docs/tunnel.md, "Status push").
import { z } from 'zod';

const port = z.number().int().min(1).max(65535);
const noControl = (s: string) => !/[\0\r\n]/.test(s);

export const tunnelSpecSchema = z
  .object({
    host: z
      .string()
      .regex(/^(?!-)[A-Za-z0-9.-]{1,253}$|^[0-9A-Fa-f:]{2,39}$/, 'a host name or IP address')
      .describe("The bridge's tunnel endpoint as the compute nodes reach it (hub-bridge.yaml tunnel.publicHost)."),
    port: port.describe('Port of the tunnel endpoint (tunnel.publicPort, else tunnel.listen.port).'),
    user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a POSIX account name').describe('The user name the agent logs in as (tunnel.user; virtual, no account).'),
    hostKeys: z
      .array(z.string().min(1).max(16 * 1024).refine(noControl, 'a known_hosts line must be one line'))
      .min(1, 'at least one host key of the hub')
      .max(32)
      .describe("known_hosts lines of the endpoint's host key (tunnel.hostKeyFile); any other host key is refused."),
    remotePort: port.describe('Hub-side 127.0.0.1 port P of this session: the only one the agent may forward; the hub reaches the notebook there.'),
    hubApiPort: port
      .optional()
      .describe("Hub-side 127.0.0.1 port of JupyterHub's API: the only destination the agent may open. Absent: no API forward (a launch behind the gateway's tunnel has no hub)."),
    keepaliveIntervalSeconds: z.number().min(1).max(600).default(5).describe('SSH keepalive interval of the agent (it reconnects after 3 unanswered ones).'),
  })
  .strict();
export type TunnelSpec = z.infer<typeof tunnelSpecSchema>;

const PRIVATE_KEY = /^-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/=:,\- \r\n]+\r?\n-----END [A-Z0-9 ]*PRIVATE KEY-----\s*$/;

/** In the request only: the spec plus the per-job private key (SECRET; messages never show it). */
export const tunnelRequestSchema = tunnelSpecSchema
  .extend({
    privateKey: z
      .string()
      .max(16 * 1024, 'the private key is too long')
      .refine((s) => PRIVATE_KEY.test(s), 'must be an unencrypted private key in PEM/OpenSSH armour (-----BEGIN … PRIVATE KEY-----)'),
  })
  .strict();
export type TunnelRequest = z.infer<typeof tunnelRequestSchema>;

/** Splits the request's tunnel into the public spec (job.json) and the secret key (secrets.json). */
export function splitTunnelRequest(t: TunnelRequest): { spec: TunnelSpec; privateKey: string } {
  const { privateKey, ...spec } = t;
  return { spec, privateKey };
}

/**
 * The agent's status channel: a direct-tcpip channel to this pseudo destination (a name
 * that can never resolve, RFC 2606), on which the agent writes one JSON line per change of
 * the server's phase, e.g. `{"phase":"listening","port":43123}` (port: the server's port on
 * the node). The endpoint only reads it; lines it does not understand are ignored.
 */
export const STATUS_CHANNEL = { host: 'status.hpc-bridge.invalid', port: 1 } as const;

/**
 * The one line the endpoint writes on a status channel: once the agent's connection holds
 * its reverse forward (at once when it already does). An agent that cannot see the reply to
 * its tcpip-forward request (OpenSSH's ssh, run by the job launcher) waits for it before the
 * server starts; ssh2's agent sees the reply and only drains the channel.
 */
export const FORWARD_UP = '{"forward":"up"}\n';

export const AGENT_PHASES = ['environment', 'starting', 'listening', 'exited'] as const;
export type AgentPhase = (typeof AGENT_PHASES)[number];
export interface StatusPush {
  phase: AgentPhase;
  /** The server's port on the node, or null. */
  port: number | null;
}

/** One line of the status channel; anything but a well-formed push (≤ 512 characters) is null. */
export function parseStatusPush(line: string): StatusPush | null {
  if (line.length > 512) return null;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  const { phase, port } = v as Record<string, unknown>;
  if (!AGENT_PHASES.includes(phase as AgentPhase)) return null;
  if (port !== null && port !== undefined && !(Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535)) return null;
  return { phase: phase as AgentPhase, port: (port as number | undefined) ?? null };
}
