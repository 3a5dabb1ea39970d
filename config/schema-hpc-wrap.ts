// hpc-wrap.yaml's schema (and the resources a profile or a launch asks for). Apart from
// schema.ts (which adds hub-bridge.yaml's) so that hpc-wrap's commands — start-env in
// every job — build only the schemas of the file they read: zod builds each at import.
import { z } from 'zod';
import { environmentsSchema } from './schema-environment.js';
import { launchSchema } from './schema-launch.js';
import { overlaySchema } from './schema-overlay.js';
import { webdavSchema } from './schema-webdav.js';
import { argv } from './schema-argv.js';
import { unexpandedVariableMessage, unexpandedVariables } from './shell-variables.js';
import { schedulerDefinition, schedulerSchema } from '../hpc-wrappers/schedulers/registry.js';
import { LOG_LEVELS } from '../hpc-wrappers/app-log.js';

export const port = z.number().int().min(1).max(65535);

export const portRange = z
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
        portRange: portRange.default({ start: 49152, end: 65000 }).describe("Node-side ports start-env picks from; those outside the kernel's ephemeral range (net.ipv4.ip_local_port_range) first."),
      })
      .strict()
      .prefault({})
      .describe('The single-user server inside the job.'),
    job: z
      .object({
        namePrefix: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/).default('jupyterhub').describe('Job name prefix; the escaped user name follows.'),
        hpcWrapCommand: argv('How the job runs hpc-wrap on the compute node').nullable().default(null).describe('How the job script runs hpc-wrap on the node; null = the same node and file as this hpc-wrap.'),
        outputTailLines: z.number().int().min(0).max(500).default(20).describe('Lines of job output reported with a failure.'),
        launcher: z
          .enum(['auto', 'node'])
          .default('auto')
          .describe(
            "What starts a plain job's server (no software environment, overlay or WebDAV) under Slurm or fork. auto: hpc-wrap's launcher in the node's python3 (standard library only; ~70 ms of CPU before the server instead of Node's ~300 ms; a tunnel held by the node's OpenSSH ssh), start-env where there is no python3 (or, with a tunnel, no ssh); node: always start-env and its ssh2 agent.",
          ),
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
        level: z.enum(LOG_LEVELS).default('info').describe('Log level.'),
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
