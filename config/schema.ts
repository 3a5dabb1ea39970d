// The one schema for both configuration files. Every key carries a description:
// `config check`, `config docs` and the wizard are generated from it. hub-bridge.yaml's is
// here; hpc-wrap.yaml's (which hpc-wrap's own commands load alone) is schema-hpc-wrap.ts.
import { z } from 'zod';
import { gatewaySchema } from './schema-gateway.js';
import { hubServiceSchema, profileCheckSchema } from './schema-hub-service.js';
import { tunnelSchema } from './schema-tunnel.js';
import { listenSchema } from './schema-listen.js';
import { accountingSchema, metricsSchema } from './schema-observability.js';
import { argv } from './schema-argv.js';
import { port, portRange, resourcesSchema } from './schema-hpc-wrap.js';

export { hpcWrapSchema, resourcesSchema, type HpcWrapConfig, type Resources } from './schema-hpc-wrap.js';

const profileSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/).describe('Identifier the hub sends (letters, digits, _ . -).'),
    displayName: z.string().min(1).max(200).describe('What students see in the options form.'),
    description: z.string().max(2000).default('').describe('A sentence shown under the display name.'),
    resources: resourcesSchema.prefault({}).describe('What a session of this profile asks the scheduler for.'),
    environment: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/).nullable().default(null).describe("Name of a software environment defined in the cluster's hpc-wrap.yaml (environments); null = its default."),
  })
  .strict();
export type Profile = z.infer<typeof profileSchema>;

const localTransport = z
  .object({
    kind: z.literal('local').describe('Run hpc-wrap on this machine (the embedded setup, or a hub on the login node).'),
    runAs: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/)
      .nullable()
      .default(null)
      .describe('Run hpc-wrap as this local account (the bridge must run as root); null = as the bridge itself.'),
    identity: z
      .enum(['shared', 'sudo'])
      .default('shared')
      .describe('shared: every command runs as the bridge (or runAs); sudo: startjob/killjob for a user run as `<sudoCommand> USER -- hpc-wrap ...` (the user\'s own account; hpc-wrap.yaml identity.mode per-user).'),
    sudoCommand: argv('Prefix for identity sudo').default(['sudo', '-n', '-u']).describe('identity sudo: the prefix; the user name, "--" and the hpc-wrap argv follow.'),
  })
  .strict();

const absolutePath = (what: string) =>
  z.string().min(2).refine((p) => p.startsWith('/') && !p.includes('\0'), 'must be an absolute path').describe(what);

const sshTransport = z
  .object({
    kind: z.literal('ssh').describe('Run hpc-wrap on the login node over SSH (pooled connections, host keys checked against knownHostsFile).'),
    host: z
      .string()
      .regex(/^(?!-)[A-Za-z0-9.-]{1,253}$|^[0-9A-Fa-f:]{2,39}$/, 'a host name or IP address')
      .describe('Login node to connect to (host name or IP address).'),
    port: port.default(22).describe('SSH port of the login node.'),
    user: z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/, 'a POSIX account name').describe('Service account the bridge logs in as.'),
    identityFile: absolutePath('Private key of the service account (OpenSSH or PEM format, no passphrase, mode 0600).'),
    knownHostsFile: absolutePath(
      'known_hosts file the login node\'s host key must be in (an unknown or changed key is refused); `hpc-bridge cluster trust` adds it.',
    ),
    identity: z
      .enum(['shared', 'sudo'])
      .default('shared')
      .describe('shared: the service account runs every job; sudo: commands for a user run as `<sudoCommand> USER -- hpc-wrap ...` on the login node.'),
    sudoCommand: argv('Prefix for identity sudo').default(['sudo', '-n', '-u']).describe('identity sudo: the prefix; the user name, "--" and the hpc-wrap argv follow.'),
    maxConnections: z.number().int().min(1).max(64).default(4).describe('Most SSH connections open at once.'),
    maxSessionsPerConnection: z
      .number()
      .int()
      .min(1)
      .max(256)
      .default(10)
      .describe("Concurrent commands per connection; keep at or below the server's MaxSessions (OpenSSH default 10)."),
    maxQueue: z.number().int().min(0).max(100_000).default(1000).describe('Commands that may wait for a free session; more fail at once with "queue full".'),
    keepaliveIntervalSeconds: z.number().min(0).max(3600).default(15).describe('Seconds between SSH keepalive probes; 0 = none.'),
    keepaliveCountMax: z.number().int().min(1).max(100).default(3).describe('Unanswered keepalives after which a connection is dropped (and replaced).'),
    connectTimeoutSeconds: z.number().min(1).max(300).default(15).describe('Time allowed for TCP connect, key exchange and login.'),
    idleSeconds: z.number().min(1).max(86_400).default(300).describe('Close a connection that ran no command for this long.'),
  })
  .strict();

export const hubBridgeSchema = z
  .object({
    listen: listenSchema({
      host: '127.0.0.1',
      hostWhat: 'Address the API listens on. Keep it on loopback unless a proxy with TLS is in front.',
      port: 8099,
      portWhat: 'TCP port of the API (0 = any free port, printed at start).',
      what: 'Where the bridge API listens.',
    }),
    apiTokenFile: z
      .string()
      .min(1)
      .default('.state/api-token')
      .describe('File holding the bearer token of the API (mode 0600). Created with a random token when missing.'),
    stateDb: z.string().min(1).default('.state/bridge.sqlite').describe('SQLite database of sessions, jobs and events (WAL mode).'),
    hubApiUrl: z
      .string()
      .url()
      .default('http://127.0.0.1:8081/hub/api')
      .describe("JupyterHub's API URL as the hub host sees it (the tunnel forwards the notebook's API calls here)."),
    cluster: z
      .object({
        transport: z.discriminatedUnion('kind', [localTransport, sshTransport]).prefault({ kind: 'local' }).describe('How the bridge reaches the login node.'),
        hpcWrap: argv('How to run hpc-wrap on the login node, e.g. ["hpc-wrap"] or ["node", "/opt/hpc-wrap.mjs", "--config", "/etc/hpc-wrap.yaml"]')
          .nullable()
          .default(null)
          .describe('How to run hpc-wrap (argv); null = the hpc-wrap bundled next to this bridge, with the embedded config.'),
        commandTimeoutSeconds: z.number().min(1).max(3600).default(60).describe('Kill an hpc-wrap call that takes longer than this.'),
        agent: z
          .boolean()
          .default(true)
          .describe(
            'Keep one long-lived `hpc-wrap agent` on the login node (a child process, or one channel of the SSH pool) and send it the commands that run as the service account (status, submit with identity shared, cancel, partitions...), instead of starting hpc-wrap for each; it also tells the bridge at once when a server listens or a job ends. Restarted with backoff when lost; commands run one-shot meanwhile, and always for identity: sudo steps run as the user. false = one-shot commands only.',
          ),
        submitDeadlineSeconds: z
          .number()
          .min(5)
          .max(86_400)
          .default(300)
          .describe(
            'How long a submit is retried while the scheduler does not answer or the login node cannot be reached (with backoff; the student is told). Keep it below the hub\'s start_timeout.',
          ),
        submitConcurrency: z
          .number()
          .int()
          .min(1)
          .max(64)
          .default(4)
          .describe('How many submits (hpc-wrap startjob) run at once; a burst of creates is accepted at once and waits inside the bridge as `submitting`.'),
        nodeAddress: z
          .string()
          .min(1)
          .max(253)
          .regex(/^[A-Za-z0-9.:_{}\[\]-]+$/, 'may hold letters, digits, . - _ : and the placeholder {node}')
          .default('{node}')
          .describe(
            'Without a tunnel, where the hub reaches a job\'s server: the node name the scheduler reports with {node} replaced, e.g. "{node}.ib.cluster.example" (the scheduler\'s node "localhost" is 127.0.0.1). The same from the first RUNNING to the end; with a tunnel always 127.0.0.1:P.',
          ),
      })
      .strict()
      .prefault({})
      .describe('The cluster side: transport and the hpc-wrap command.'),
    status: z
      .object({
        intervalSeconds: z.number().min(0.2).max(3600).default(15).describe('Seconds between status queries while every session is settled (one query for ALL sessions).'),
        startingIntervalSeconds: z.number().min(0.1).max(600).default(1).describe('Seconds between status queries while any session is starting.'),
        queuedIntervalSeconds: z
          .number()
          .min(0.1)
          .max(3600)
          .default(10)
          .describe(
            'At most this many seconds between status queries of a session waiting in the queue (a new job is asked about at the starting pace, then ever less often up to this; positions change slowly). From the moment its job runs, the starting pace.',
          ),
        probeTimeoutSeconds: z.number().min(0.1).max(60).default(2).describe('Timeout of the HTTP readiness probe of a starting server.'),
        outputTailLines: z.number().int().min(0).max(500).default(20).describe('How many lines of the job output a failure message carries.'),
      })
      .strict()
      .prefault({})
      .describe('The status poller.'),
    reaper: z
      .object({
        intervalSeconds: z.number().min(5).max(86_400).default(300).describe('How often the orphan reaper lists the jobs that carry a session marker (one scheduler call).'),
        graceSeconds: z
          .number()
          .min(0)
          .max(86_400)
          .default(120)
          .describe('A marked job whose session ended (or that duplicates a live session\'s job) is cancelled once the session has been in that state this long.'),
      })
      .strict()
      .prefault({})
      .describe('The orphan reaper: cancels batch jobs no live session owns (left by an interrupted submit).'),
    ports: portRange
      .default({ start: 40000, end: 40999 })
      .describe("Hub-side 127.0.0.1 ports, one per tunnel session: the bridge listens on a session's port from grant to end (the hub's proxy reaches the notebook there); ports other programs hold are skipped."),
    tunnel: tunnelSchema,
    profiles: z
      .array(profileSchema)
      .min(1)
      .default([{ name: 'default', displayName: 'Default notebook', description: '1 CPU, 1 hour', resources: resourcesSchema.parse({}), environment: null }])
      .refine((ps) => new Set(ps.map((p) => p.name)).size === ps.length, 'profile names must be unique')
      .describe('Resource profiles offered in the hub options form.'),
    defaultProfile: z.string().nullable().default(null).describe('Profile used when the hub names none; null = the first profile.'),
    metrics: metricsSchema,
    accounting: accountingSchema,
    profileCheck: profileCheckSchema,
    hubService: hubServiceSchema,
    maxBodyBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(256 * 1024).describe('Largest request body the API accepts.'),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info').describe('Log level.'),
      })
      .strict()
      .prefault({})
      .describe('Logging (JSON lines on stderr, secrets redacted).'),
    gateway: gatewaySchema,
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.cluster.transport.kind === 'ssh' && c.cluster.hpcWrap === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['cluster', 'hpcWrap'],
        message: 'is required with the ssh transport: how to run hpc-wrap on the login node, e.g. ["/opt/hpc-wrap/hpc-wrap", "--config", "/etc/hpc-wrap.yaml"]',
      });
    }
    if (c.tunnel.enabled && c.tunnel.publicHost === null) {
      ctx.addIssue({ code: 'custom', path: ['tunnel', 'publicHost'], message: 'is required with tunnel.enabled: the name or address compute nodes use to reach this host' });
    }
    if (c.defaultProfile !== null && !c.profiles.some((p) => p.name === c.defaultProfile)) {
      ctx.addIssue({ code: 'custom', path: ['defaultProfile'], message: `must name one of the profiles (${c.profiles.map((p) => p.name).join(', ')})` });
    }
  })
  .describe('hub-bridge.yaml: the service next to JupyterHub.');
export type HubBridgeConfig = z.infer<typeof hubBridgeSchema>;
export type SshTransportConfig = z.infer<typeof sshTransport>;

