// hub-bridge.yaml `tunnel`: the notebook tunnels, terminated by the bridge's own SSH
// endpoint (docs/tunnel.md). Implemented by hub-bridge/tunnel/.
import { z } from 'zod';
import { listenSchema, tcpPort } from './schema-listen.js';

const port = tcpPort(1);

/** A host name or IP address a compute node can connect to (the job's tunnel.host). */
export const TUNNEL_HOST_RE = /^(?!-)[A-Za-z0-9.-]{1,253}$|^[0-9A-Fa-f:]{2,39}$/;

export const tunnelSchema = z
  .object({
    enabled: z
      .boolean()
      .default(false)
      .describe("Reach each notebook through one SSH connection from its job to the bridge's own tunnel endpoint (a key per job, the hub-side port held by the bridge for the session's life)."),
    listen: listenSchema({
      host: '0.0.0.0',
      hostWhat: 'Address the tunnel endpoint listens on (0.0.0.0 = every interface; open it in the firewall to the compute nodes only).',
      port: 2222,
      portMin: 1,
      portWhat: 'TCP port of the tunnel endpoint (not 22: the system sshd stays as it is).',
      what: "Where the bridge's SSH tunnel endpoint listens.",
    }),
    publicHost: z
      .string()
      .regex(TUNNEL_HOST_RE, 'a host name or IP address')
      .nullable()
      .default(null)
      .describe('The name or address compute nodes use to reach this host (put into each job; required when the tunnel is enabled).'),
    publicPort: port
      .nullable()
      .default(null)
      .describe('The port compute nodes connect to; null = listen.port (set it when a NAT or port forward sits in between).'),
    hostKeyFile: z
      .string()
      .min(1)
      .default('.state/tunnel-host-key')
      .describe("The endpoint's own SSH host key (ed25519, OpenSSH format, mode 0600); made on the first start. Jobs pin its public half."),
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a name like tunnelbot')
      .default('tunnelbot')
      .describe('The user name agents log in as. Virtual: no Unix account of that name is needed or used.'),
    keyLifetimeMarginSeconds: z
      .number()
      .int()
      .min(0)
      .max(86400)
      .default(600)
      .describe("A job's key is refused this long after the job's wall time (counted from its start); ending the session revokes it at once anyway."),
    keepaliveIntervalSeconds: z
      .number()
      .min(1)
      .max(600)
      .default(5)
      .describe('Keepalive interval of the compute-side agent (it reconnects after 3 unanswered ones).'),
    endpointKeepaliveSeconds: z
      .number()
      .min(0.5)
      .max(300)
      .default(1)
      .describe('Keepalive interval of the endpoint: an agent silent for three intervals (3 s by default) is dropped and its session shows the tunnel down; a closed connection shows at once.'),
    loginGraceSeconds: z.number().min(1).max(600).default(10).describe('A connection that has not authenticated this long after connecting is closed.'),
    maxUnauthenticated: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(500)
      .describe('Connections still authenticating at once; more are closed at accept (agents retry with backoff).'),
  })
  .strict()
  .prefault({})
  .describe('The notebook tunnel (see docs/tunnel.md).');
export type TunnelConfig = z.infer<typeof tunnelSchema>;
