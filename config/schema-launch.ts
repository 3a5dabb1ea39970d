// hpc-wrap.yaml `launch`: the site's defaults, limits and gateway for `hpc-wrap launch`,
// which an HPC user runs as themself on the login node (galyleo's galyleo.conf, done as
// part of the one config file). Implemented by hpc-wrappers/launch/; docs/launch.md.
import { z } from 'zod';
import { moduleName } from './schema-software.js';

const noControl = (s: string) => !/[\0-\x1f\x7f]/.test(s);
const walltime = z.string().regex(/^(\d+-)?\d{1,3}(:\d{2}){0,2}$/, 'a time such as 00:30:00, 90 (minutes) or 1-00:00:00');
const name = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/);
const argv = z.array(z.string().min(1).refine((s) => !s.includes('\0'), 'must not contain NUL')).min(1);
const absolutePath = z
  .string()
  .min(2)
  .refine((p) => p.startsWith('/'), 'must be an absolute path')
  .refine(noControl, 'must not contain control characters');

export const JUPYTER_INTERFACES = ['lab', 'notebook', 'voila'] as const;
export type JupyterInterface = (typeof JUPYTER_INTERFACES)[number];

export const launchDefaultsSchema = z
  .object({
    partition: name.nullable().default(null).describe('Partition when the user gives no --partition (galyleo GALYLEO_DEFAULT_PARTITION); null = the scheduler default.'),
    account: name.nullable().default(null).describe('Account when the user gives no --account; null = the user\'s scheduler default.'),
    cpus: z.number().int().min(1).max(1024).default(1).describe('CPUs per task when the user gives no --cpus.'),
    memoryGB: z.number().min(0.0625).max(16 * 1024).nullable().default(null).describe('Memory in GB when the user gives no --memory; null = the scheduler default.'),
    timeLimit: walltime.default('00:30:00').describe('Wall time when the user gives no --time-limit.'),
    jupyter: z.enum(JUPYTER_INTERFACES).default('lab').describe('Interface when the user gives no --jupyter: lab, notebook or voila.'),
    envModules: z.array(moduleName).default([]).describe('Modules loaded when the user gives no --env-modules (galyleo GALYLEO_DEFAULT_MODULE).'),
    scratchDir: absolutePath.nullable().default(null).describe('Node-local scratch for conda environments when the user gives no --scratch-dir; null = $TMPDIR of the job, else /tmp.'),
  })
  .strict();

export const launchLimitsSchema = z
  .object({
    maxCpus: z.number().int().min(1).nullable().default(null).describe('Largest --cpus; null = no limit (the scheduler still has its own).'),
    maxMemoryGB: z.number().min(0.0625).nullable().default(null).describe('Largest --memory in GB; null = no limit.'),
    maxTimeLimit: walltime.nullable().default(null).describe('Longest --time-limit; null = no limit.'),
    maxNodes: z.number().int().min(1).nullable().default(null).describe('Largest --nodes; null = no limit.'),
    maxGpus: z.number().int().min(0).nullable().default(null).describe('Largest --gpus; null = no limit.'),
    partitions: z.array(name).nullable().default(null).describe('Partitions users may pick; null = any.'),
    maxKeepAlive: z.number().int().min(0).max(100).default(3).describe('Largest --keep-alive (resubmissions after the wall time).'),
  })
  .strict();

export const launchGatewaySchema = z
  .object({
    url: z
      .string()
      .url()
      .refine((u) => u.startsWith('https://'), 'must be an https:// URL')
      .describe('The gateway (`hpc-bridge gateway`) as the login node reaches it, e.g. https://nb.example.org; launch registers each job there.'),
    caFile: absolutePath.nullable().default(null).describe("CA certificate(s) (PEM) that signed the gateway's certificate, besides the system's; e.g. for a site CA."),
    timeoutSeconds: z.number().min(1).max(300).default(20).describe('Time allowed for one registration call.'),
  })
  .strict();

export const launchSchema = z
  .object({
    stateDir: z
      .string()
      .min(1)
      .refine(noControl, 'must not contain control characters')
      .refine((p) => p.startsWith('/') || p === '~' || p.startsWith('~/'), 'must be an absolute path or start with ~/ (the user\'s home)')
      .default('~/.hpc-wrap')
      .describe("Each user's launch state (launches/<id>/: submitted script, job output, resolved options); ~ = the user's home, which compute nodes must see."),
    defaults: launchDefaultsSchema.prefault({}).describe('What launch asks for when the user does not say (galyleo.conf).'),
    limits: launchLimitsSchema.prefault({}).describe('What users may ask for; a request above a limit is refused before anything is submitted.'),
    gateway: launchGatewaySchema
      .optional()
      .describe('The HTTPS gateway that gives each launch a one-time URL; absent = none: users get `ssh -L` instructions instead.'),
    bindAddress: z
      .string()
      .min(1)
      .nullable()
      .default(null)
      .describe("Where the notebook listens on the node; null = 0.0.0.0 with a gateway (it must reach the node), 127.0.0.1 without (reached through ssh -L)."),
    sshHost: z
      .string()
      .regex(/^(?!-)[A-Za-z0-9.-]{1,253}$/, 'a host name')
      .nullable()
      .default(null)
      .describe('The login node as users ssh to it, for the `ssh -L` instructions; null = this host\'s name.'),
    localPort: z.number().int().min(1024).max(65535).default(8888).describe('The laptop port in the `ssh -L` instructions.'),
    jupyterCommand: z
      .object({
        lab: argv.default(['jupyter', 'lab']).describe('How to run JupyterLab (argv, looked up on the PATH the environment gives).'),
        notebook: argv.default(['jupyter', 'notebook']).describe('How to run the classic notebook.'),
        voila: argv.default(['voila']).describe('How to run Voilà.'),
      })
      .strict()
      .prefault({})
      .describe('The server command per --jupyter interface; hpc-wrap adds its config (token, base URL, port) without argv secrets.'),
    container: z
      .object({
        runtime: argv.default(['singularity']).describe('The container runtime for --sif (["apptainer"], an absolute path).'),
        loadModules: z.array(moduleName).default([]).describe('Modules that provide the runtime (e.g. ["singularitypro"]).'),
      })
      .strict()
      .prefault({})
      .describe('How --sif runs.'),
    jobName: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/).default('jupyter').describe('Job name shown by the scheduler (the launch id follows).'),
    keepAliveLeadSeconds: z
      .number()
      .int()
      .min(10)
      .max(3600)
      .default(120)
      .describe('With --keep-alive: the job submits its successor this long before its wall time ends (the successor waits for it to end).'),
    checklistTimeoutSeconds: z.number().min(1).max(600).default(10).describe('Default of --checklist-timeout: time allowed for each pre-flight check.'),
  })
  .strict()
  .prefault({})
  .describe('`hpc-wrap launch` for users without a hub (docs/launch.md).');
export type LaunchConfig = z.infer<typeof launchSchema>;
export type LaunchDefaults = z.infer<typeof launchDefaultsSchema>;
export type LaunchLimits = z.infer<typeof launchLimitsSchema>;
