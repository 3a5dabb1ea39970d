// hub-bridge.yaml `gateway`: `hpc-bridge gateway`, the HTTPS reverse proxy that gives each
// `hpc-wrap launch` a one-time URL (Satellite, done right). It reaches the cluster through
// the same `cluster` transport as the bridge. Implemented by hub-bridge/gateway/; docs/launch.md.
import { z } from 'zod';
import { listenSchema, tcpPort } from './schema-listen.js';
import { tunnelSchema } from './schema-tunnel.js';

const tunnelFields = tunnelSchema.unwrap().shape;

const cidr = z
  .string()
  .regex(/^([0-9.]+|[0-9A-Fa-f:]+)\/\d{1,3}$/, 'an address range such as 10.0.0.0/8 or fd00::/8');

export const gatewaySchema = z
  .object({
    listen: listenSchema({
      host: '0.0.0.0',
      hostWhat: 'Address the HTTPS server listens on.',
      port: 8443,
      portWhat: 'Port of the HTTPS server (0 = any free port, printed at start).',
      what: 'Where the gateway listens.',
    }),
    tls: z
      .object({
        certFile: z.string().min(1).describe("The operator's certificate chain (PEM); for subdomain mode a wildcard *.<domain>."),
        keyFile: z.string().min(1).describe('Its private key (PEM, mode 0600).'),
      })
      .strict()
      .optional()
      .describe('TLS certificate; required to run the gateway.'),
    domain: z
      .string()
      .regex(/^(?!-)[A-Za-z0-9.-]{1,200}(:\d{1,5})?$/, 'a DNS name (optionally :port)')
      .default('localhost')
      .describe('Public name: routes are https://<label>.<domain>/ (subdomain) or https://<domain>/<label>/ (path); add :port when not 443.'),
    mode: z
      .enum(['subdomain', 'path'])
      .default('subdomain')
      .describe('subdomain: one origin per session (needs a wildcard DNS record and certificate; recommended); path: one name for all (see docs/launch.md for what that shares).'),
    stateDir: z.string().min(1).default('.state/gateway').describe('Routes database (SQLite, 0600) and the audit log; made 0700.'),
    auditLog: z.string().min(1).nullable().default(null).describe('Audit log (JSON lines: issue, redeem, route up/down; never a token); null = <stateDir>/audit.log.'),
    pollIntervalSeconds: z.number().min(0.2).max(600).default(5).describe('Seconds between scheduler queries (ONE for all routes); a route is gone at most this long after its job ends.'),
    startingPollIntervalSeconds: z.number().min(0.1).max(60).default(1).describe('Seconds between queries while any route waits for its job or its server.'),
    maxUnverifiedSeconds: z.number().min(1).max(86400).default(120).describe('If the scheduler cannot be asked for this long, routes stop proxying until it answers again.'),
    probeTimeoutSeconds: z.number().min(0.1).max(60).default(2).describe('Timeout of the readiness probe of a notebook server.'),
    endedRetentionSeconds: z.number().min(0).max(86400).default(600).describe('How long an ended session still shows "this session has ended" (nothing is proxied).'),
    backendPorts: z
      .object({
        start: tcpPort(1).default(1024).describe('Lowest port (inclusive).'),
        end: tcpPort(1).default(65535).describe('Highest port (inclusive).'),
      })
      .strict()
      .prefault({})
      .describe('Node ports a job may announce; others are refused.'),
    nodes: z
      .object({
        domain: z.string().regex(/^[A-Za-z0-9.-]{1,200}$/).nullable().default(null).describe('Appended to the scheduler\'s node name (galyleo GALYLEO_DNS_DOMAIN), e.g. "ib.cluster"; null = the name as it is.'),
        addresses: z.record(z.string(), z.string().min(1)).default({}).describe('Node name → address, for nodes the gateway host cannot resolve.'),
      })
      .strict()
      .prefault({})
      .describe('How the gateway reaches a node the scheduler names.'),
    backend: z
      .enum(['direct', 'tunnel'])
      .default('direct')
      .describe(
        "How the gateway reaches a route's notebook. direct: the node the scheduler names, at the port the job's comment announces (the gateway host must reach the compute nodes). tunnel: nodes the gateway cannot reach; each job logs into the gateway's own SSH tunnel endpoint (gateway.tunnel) with a key made for its route and forwards a port held by the gateway to its server, which then listens on the node's loopback only (docs/launch.md).",
      ),
    tunnel: tunnelSchema
      .unwrap()
      .omit({ enabled: true, hostKeyFile: true, listen: true, publicHost: true, keyLifetimeMarginSeconds: true })
      .extend({
        // the bridge's tunnel keys, described for the gateway
        publicHost: tunnelFields.publicHost.describe('The name or address compute nodes use to reach the gateway host (put into each job; required with backend: tunnel).'),
        keyLifetimeMarginSeconds: tunnelFields.keyLifetimeMarginSeconds.describe("A route's key is refused this long plus maxUnverifiedSeconds after the scheduler last confirmed its job; ending the route revokes it at once anyway."),
        listen: listenSchema({
          host: '0.0.0.0',
          hostWhat: 'Address the tunnel endpoint listens on (open it in the firewall to the compute nodes only).',
          port: 2223,
          portWhat: "TCP port of the gateway's tunnel endpoint (0 = any free port; not the bridge's 2222 if both run on one host).",
          what: "Where the gateway's SSH tunnel endpoint listens (backend: tunnel).",
        }),
        hostKeyFile: z
          .string()
          .min(1)
          .nullable()
          .default(null)
          .describe("The endpoint's own SSH host key (ed25519, 0600), made on the first start; jobs pin its public half. null = <stateDir>/tunnel-host-key."),
        ports: z
          .object({
            start: tcpPort(1).default(41000).describe('Lowest port (inclusive).'),
            end: tcpPort(1).default(41999).describe('Highest port (inclusive).'),
          })
          .strict()
          .prefault({})
          .describe("Gateway-side 127.0.0.1 ports, one per route: held by the gateway from registration to the route's end; the route's job forwards its port to its server."),
      })
      .strict()
      .prefault({})
      .describe(
        "backend: tunnel: the gateway's own tunnel endpoint (the bridge's, docs/tunnel.md, without the hub API forward).",
      ),
    registration: z
      .object({
        allowFrom: z.array(cidr).default(['0.0.0.0/0', '::/0']).describe('Addresses that may register routes (e.g. the login nodes); the route secret is the proof either way.'),
        maxPerMinutePerAddress: z.number().int().min(1).max(1_000_000).default(600).describe('Registration calls per minute from one address.'),
        maxRoutesPerUser: z.number().int().min(1).max(10_000).default(20).describe('Live routes one user may have.'),
        maxPending: z.number().int().min(1).max(100_000).default(2000).describe('Registrations waiting for their scheduler check; more are refused with 503.'),
        maxBodyBytes: z.number().int().min(256).max(65536).default(4096).describe('Largest registration request.'),
      })
      .strict()
      .prefault({})
      .describe('Who may register routes, and how many.'),
  })
  .strict()
  .superRefine((g, ctx) => {
    if (g.backend === 'tunnel' && g.tunnel.publicHost === null) {
      ctx.addIssue({ code: 'custom', path: ['tunnel', 'publicHost'], message: 'is required with gateway.backend: tunnel: the name or address compute nodes use to reach the gateway host' });
    }
    if (g.tunnel.ports.end < g.tunnel.ports.start) ctx.addIssue({ code: 'custom', path: ['tunnel', 'ports'], message: 'end must not be below start' });
  })
  .prefault({})
  .describe('`hpc-bridge gateway`: HTTPS URLs for `hpc-wrap launch` (docs/launch.md).');
export type GatewayConfig = z.infer<typeof gatewaySchema>;
