// The one schema for both configuration files. Every key carries a description:
// `config check`, `config docs` and the wizard are generated from it.
import { z } from 'zod';
import { environmentsSchema } from './schema-environment.js';
import { gatewaySchema } from './schema-gateway.js';
import { launchSchema } from './schema-launch.js';
import { hubServiceSchema, profileCheckSchema } from './schema-hub-service.js';
import { overlaySchema } from './schema-overlay.js';
import { tunnelSchema } from './schema-tunnel.js';
import { webdavSchema } from './schema-webdav.js';
import { accountingSchema, metricsSchema } from './schema-observability.js';
import { argv } from './schema-argv.js';
import { unexpandedVariableMessage, unexpandedVariables } from './shell-variables.js';
import { schedulerDefinition, schedulerSchema } from '../hpc-wrappers/schedulers/registry.js';

const port = z.number().int().min(1).max(65535);

const portRange = z
  .object({
    start: port.describe('First port of the range (inclusive).'),
    end: port.describe('Last port of the range (inclusive).'),
  })
  .refine((r) => r.end >= r.start, { message: 'end must not be below start' });

const walltime = z
  .string()
  .regex(/^(\d+-)?\d{1,3}(:\d{2}){0,2}$/, 'a Slurm time such as 01:00:00, 90 or 1-00:00:00');

/** What a profile asks the scheduler for. Every field is validated before it reaches an argv. */
export const resourcesSchema = z
  .object({
    partition: z.string().regex(/^[A-Za-z0-9_.,-]{1,64}$/).nullable().default(null).describe('Partition (queue) to submit to; null = the scheduler default.'),
    cpus: z.number().int().min(1).max(1024).default(1).describe('CPU cores for the notebook (--cpus-per-task).'),
    memoryMB: z.number().int().min(16).max(16 * 1024 * 1024).nullable().default(null).describe('Memory in MiB (--mem); null = the scheduler default.'),
    gpus: z.number().int().min(0).max(64).default(0).describe('GPUs (--gres=gpu:N); 0 = none.'),
    walltime: walltime.default('01:00:00').describe('Wall-time limit of the job (--time).'),
    account: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).nullable().default(null).describe('Account to charge (--account); null = the user default.'),
    qos: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).nullable().default(null).describe('Quality of service (--qos).'),
    reservation: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).nullable().default(null).describe('Reservation (--reservation).'),
    constraint: z.string().regex(/^[A-Za-z0-9_.&|()!,\[\]*-]{1,128}$/).nullable().default(null).describe('Node feature constraint (--constraint).'),
    // Optional (no default) so that documents and literals written before them stay as they were.
    nodes: z.number().int().min(1).max(100_000).nullish().describe('Nodes (--nodes); null = the scheduler default (1).'),
    ntasksPerNode: z.number().int().min(1).max(100_000).nullish().describe('Tasks per node (--ntasks-per-node); null = the scheduler default.'),
    gres: z
      .array(z.string().regex(/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+){0,2}$/, 'a generic resource such as gpu:p100:1 or gpu:2'))
      .max(16)
      .optional()
      .describe('Generic resources (--gres), joined with commas after gpu:N when gpus > 0.'),
    extraArgs: z
      .array(z.string().regex(/^--[a-z][a-z0-9-]*(=[^\n\r\0]*)?$/, 'each extra argument must look like --name or --name=value'))
      .default([])
      .describe('Further scheduler options, one argv element each (e.g. --exclusive).'),
  })
  .strict();
export type Resources = z.infer<typeof resourcesSchema>;

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
    listen: z
      .object({
        host: z.string().min(1).default('127.0.0.1').describe('Address the API listens on. Keep it on loopback unless a proxy with TLS is in front.'),
        port: z.number().int().min(0).max(65535).default(8099).describe('TCP port of the API (0 = any free port, printed at start).'),
      })
      .strict()
      .prefault({})
      .describe('Where the bridge API listens.'),
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

export const hpcWrapSchema = z
  .object({
    workDir: z.string().min(1).default('.state/hpc').describe('Root of per-user directories, session run dirs, the job index and logs.'),
    homes: z
      .object({
        create: z.boolean().default(true).describe('Create a per-user home (like jh_config creating_user_homes); the notebook starts there with HOME set to it.'),
        root: z.string().min(1).nullable().default(null).describe('Where per-user homes are made; null = <workDir>/homes.'),
      })
      .strict()
      .prefault({})
      .describe('Per-user home directories.'),
    identity: z
      .object({
        mode: z
          .enum(['shared', 'per-user'])
          .default('shared')
          .describe(
            'shared: every job runs as the service account (one Unix account for all students: each notebook can read every other student\'s files and job keys — only for single-user or trusted setups). per-user: startjob, killjob and the job run as the student\'s own account (the bridge uses sudo, `identity: sudo` in hub-bridge.yaml); each student\'s files are theirs; the service account reads status and output through serviceGroup. Recommended for any multi-user site.',
          ),
        serviceGroup: z
          .string()
          .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a POSIX group name')
          .nullable()
          .default(null)
          .describe(
            'per-user mode: the service account\'s group. Per-user run directories are made setgid to it (mode 2750) so the ONE status call, run as the service account, reads every job\'s status and output; no student is a member. `hpc-wrap setup` prepares the shared directories.',
          ),
      })
      .strict()
      .prefault({})
      .describe('Which account jobs run as, and who may read what (docs/identity.md).'),
    scheduler: schedulerSchema(),
    environments: environmentsSchema,
    defaultEnvironment: z.string().nullable().default(null).describe('Environment used when the request names none; null = the server runs on the node as it is.'),
    overlays: overlaySchema,
    webdav: webdavSchema,
    jupyter: z
      .object({
        bindAddress: z
          .string()
          .min(1)
          .default('auto')
          .describe(
            'Address the single-user server listens on inside the job. auto: 127.0.0.1 behind a tunnel and with the fork scheduler, 0.0.0.0 for a batch job without a tunnel (the hub reaches it at the node\'s address, hub-bridge.yaml cluster.nodeAddress). Behind a tunnel always 127.0.0.1.',
          ),
        portRange: portRange.default({ start: 49152, end: 65000 }).describe('Node-side ports start-env picks from.'),
      })
      .strict()
      .prefault({})
      .describe('The single-user server inside the job.'),
    job: z
      .object({
        namePrefix: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/).default('jupyterhub').describe('Job name prefix; the escaped user name follows.'),
        hpcWrapCommand: argv('How the job runs hpc-wrap on the compute node').nullable().default(null).describe('How the job script runs hpc-wrap on the node; null = the same node and file as this hpc-wrap.'),
        outputTailLines: z.number().int().min(0).max(500).default(20).describe('Lines of job output reported with a failure.'),
      })
      .strict()
      .prefault({})
      .describe('The batch job.'),
    maintenance: z
      .object({
        enabled: z.boolean().default(false).describe('Refuse new spawns (running sessions are not touched).'),
        message: z.string().max(1000).default('The cluster is in maintenance; please try again later.').describe('Shown to the student on the hub spawn page.'),
        allowUsers: z.array(z.string()).default([]).describe('Users who may still spawn during maintenance (e.g. admins testing).'),
      })
      .strict()
      .prefault({})
      .describe('Maintenance mode.'),
    logging: z
      .object({
        file: z.string().nullable().default(null).describe('Application log (JSON lines); null = <workDir>/log/hpc-wrap.log.'),
        level: z.enum(['error', 'warn', 'info', 'debug']).default('info').describe('Log level.'),
      })
      .strict()
      .prefault({})
      .describe('Logging.'),
    launch: launchSchema,
  })
  .strict()
  .superRefine((c, ctx) => {
    for (const u of unexpandedVariables(c)) ctx.addIssue({ code: 'custom', path: u.path, message: unexpandedVariableMessage(u.variable) });
    if (c.identity.mode === 'per-user' && c.identity.serviceGroup === null) {
      ctx.addIssue({ code: 'custom', path: ['identity', 'serviceGroup'], message: 'is required with identity.mode per-user: the group of the service account (it reads every job\'s status through it)' });
    }
    if (c.identity.mode === 'per-user' && !schedulerDefinition(c.scheduler.kind).batchSystem) {
      ctx.addIssue({ code: 'custom', path: ['identity', 'mode'], message: 'per-user needs a batch system: the fork scheduler runs jobs as the account that starts them and cannot show them to the service account' });
    }
    if (c.defaultEnvironment !== null && !(c.defaultEnvironment in c.environments)) {
      ctx.addIssue({ code: 'custom', path: ['defaultEnvironment'], message: `must name one of the environments (${Object.keys(c.environments).join(', ') || 'none defined'})` });
    }
  })
  .describe('hpc-wrap.yaml: the HPC side (the jh_config equivalent).');
export type HpcWrapConfig = z.infer<typeof hpcWrapSchema>;
