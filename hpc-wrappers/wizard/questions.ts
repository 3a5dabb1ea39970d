// What the wizard asks: the questions of JHub-HPC-Interface's jh_slurm_wizard (work dir,
// hub API, tunnel, homes, overlay, containers, runtime loading, logging) plus what
// hpc-wrap.yaml needs (scheduler commands, maintenance). Each question names the schema key
// its answer becomes; the key's description (from the schema) is shown with the question.
// Then what a session runs with: the environment modules loaded before the notebook server
// starts (hpc-wrap.yaml) and the profiles students choose from (hub-bridge.yaml), offered
// from the partitions the scheduler reports.
// The hub-side answers belong to hub-bridge.yaml, the file of the hub host.
import { existsSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { validateUsername } from '../../contract/names.js';
import { SCHEDULERS, schedulerKinds } from '../schedulers/registry.js';
import {
  checkCommand,
  checkCreatableDir,
  checkCreatableFile,
  checkHttpUrl,
  checkImage,
  checkInteger,
  checkPort,
  CheckFailed,
  findOnPath,
  isLoopback,
  parseArgv,
  probeHost,
} from './checks.js';
import { moduleDoubt, modulesHint } from './module-probe.js';
import { defaultProfiles, parseProfiles, partitionDoubt, PROFILE_FORMAT, type WizardProfile } from './profiles.js';
import { parseEnvAssignments, probeScheduler, schedulerEnvDefault } from './scheduler-env.js';

export type Answers = Record<string, unknown>;
export type ConfigFile = 'hpc' | 'hub';

export interface Question {
  /** Also the non-interactive flag: --<id>. */
  id: string;
  kind: 'text' | 'confirm' | 'select';
  message: string;
  file: ConfigFile;
  /** The schema key the answer becomes (dotted). */
  key: string;
  /** The key whose description is shown, when not `key` (e.g. the union above scheduler.kind). */
  describeKey?: string;
  choices?: readonly string[];
  when?: (a: Answers) => boolean;
  /** May ask something first (the profiles' default asks the scheduler for its partitions). */
  default?: (a: Answers) => string | boolean | undefined | Promise<string | undefined>;
  /** text: parses and checks the answer (throws CheckFailed with the reason). */
  check?: (raw: string, a: Answers) => unknown;
  /** A check the operator may overrule (something unreachable from here). */
  soft?: (value: unknown, a: Answers) => Promise<string | null>;
  /** The answer only shapes other keys (it is not written at `key` itself). */
  derived?: true;
  /** Interactive: a line shown before the prompt (what the cluster offers, e.g. the modules Lmod lists). */
  hint?: (a: Answers) => Promise<string | null>;
}

const str = (a: Answers, id: string) => String(a[id] ?? '');
/** The chosen scheduler asks for commands (a batch system; not fork). */
const chosen = (a: Answers) => SCHEDULERS.find((s) => s.kind === a.scheduler);
const batch = (a: Answers) => Boolean(chosen(a)?.commands);
const defaultCommand = (which: 'submit' | 'query' | 'cancel') => (a: Answers) => chosen(a)?.commands?.[which].join(' ');
/** The first registered scheduler whose programs are all on PATH, else fork. */
const detectedScheduler = () => SCHEDULERS.find((s) => s.detect.length > 0 && s.detect.every((p) => findOnPath(p)))?.kind ?? 'fork';
const tunnel = (a: Answers) => a.tunnel === true;
const viaSsh = (a: Answers) => a.transport === 'ssh';
/** A path on the hub host: only its form can be checked from here. */
function hubPath(raw: string, what: string): string {
  const t = raw.trim();
  if (!isAbsolute(t) || /[\0\n\r]/.test(t)) throw new CheckFailed(`${what} must be an absolute path on the hub host, e.g. /var/lib/hpc-bridge/.ssh/cluster_ed25519`);
  return t;
}
const container = (a: Answers) => a.container === true;
const HOST_RE = /^(?!-)[A-Za-z0-9.-]{1,253}$|^[0-9A-Fa-f:]{2,39}$/;
const MODULE_RE = /^[A-Za-z0-9_.+/-]+$/;

function words(raw: string): string[] {
  return raw.split(/[\s,]+/).filter(Boolean);
}

/** "module load a b", "ml a b" or just "a b": the module names (the old cmd_load_singularity). */
export function moduleNames(raw: string): string[] {
  const w = words(raw);
  if (w[0] === 'module' && w[1] === 'load') w.splice(0, 2);
  else if (w[0] === 'ml') w.splice(0, 1);
  for (const m of w) if (!MODULE_RE.test(m)) throw new CheckFailed(`"${m}" is not a module name (letters, digits, _ . + / -); give e.g. "module load singularity" or "apptainer/1.3"`);
  return w;
}

function defaultMkfs(): string {
  if (findOnPath('mkfs.ext3')) return 'mkfs.ext3';
  return ['/usr/sbin/mkfs.ext3', '/sbin/mkfs.ext3'].find((p) => existsSync(p)) ?? 'mkfs.ext3';
}

export const QUESTIONS: readonly Question[] = [
  {
    id: 'work-dir', kind: 'text', file: 'hpc', key: 'workDir',
    message: 'Work directory of hpc-wrap (the old project/scratch directory)',
    default: () => process.cwd(),
    check: (raw) => checkCreatableDir(raw, 'the work directory'),
  },
  {
    id: 'scheduler', kind: 'select', file: 'hpc', key: 'scheduler.kind', describeKey: 'scheduler', choices: schedulerKinds(),
    message: `Batch system (${SCHEDULERS.map((s) => `${s.kind} = ${s.title}`).join('; ')})`,
    default: detectedScheduler,
  },
  {
    id: 'submit', kind: 'text', file: 'hpc', key: 'scheduler.submit', when: batch,
    message: 'Submit command (program and fixed arguments)',
    default: defaultCommand('submit'),
    check: (raw) => checkCommand(raw, 'the submit command'),
  },
  {
    id: 'query', kind: 'text', file: 'hpc', key: 'scheduler.query', when: batch,
    message: 'Query command (hpc-wrap adds the format and job list itself)',
    default: defaultCommand('query'),
    check: (raw) => checkCommand(raw, 'the query command'),
  },
  {
    id: 'cancel', kind: 'text', file: 'hpc', key: 'scheduler.cancel', when: batch,
    message: 'Cancel command (hpc-wrap adds the job id)',
    default: defaultCommand('cancel'),
    check: (raw) => checkCommand(raw, 'the cancel command'),
  },
  {
    id: 'scheduler-env', kind: 'text', file: 'hpc', key: 'scheduler.env', when: batch,
    message: 'Environment the scheduler commands need, as NAME=value separated by spaces (empty = none)',
    default: (a) => schedulerEnvDefault(chosen(a)?.kind),
    check: (raw) => parseEnvAssignments(raw),
    // The query command run once with these variables: a scheduler found only through e.g. SLURM_CONF shows here.
    soft: (env, a) => probeScheduler(Array.isArray(a.query) ? (a.query as string[]) : [], env as Record<string, string>),
  },
  {
    id: 'transport', kind: 'select', file: 'hub', key: 'cluster.transport.kind', describeKey: 'cluster.transport', choices: ['ssh', 'local'],
    message: 'How the hub host reaches this login node (ssh = over SSH as the service account; local = the hub runs here)',
    default: () => 'ssh',
  },
  {
    id: 'hub-state-dir', kind: 'text', file: 'hub', key: 'stateDb', derived: true,
    message: "The bridge's state directory on the hub host (database, API token, keys; 0700)",
    default: () => '/var/lib/hpc-bridge',
    check: (raw) => hubPath(raw, 'the state directory'),
  },
  {
    id: 'ssh-host', kind: 'text', file: 'hub', key: 'cluster.transport.host', when: viaSsh,
    message: "This login node's name or address as the hub host reaches it",
    default: () => hostname(),
    check: (raw) => {
      const t = raw.trim();
      if (!HOST_RE.test(t)) throw new CheckFailed(`"${t}" is not a host name or IP address`);
      return t;
    },
  },
  {
    id: 'ssh-port', kind: 'text', file: 'hub', key: 'cluster.transport.port', when: viaSsh,
    message: "This login node's SSH port",
    default: () => '22',
    check: (raw) => checkPort(raw, 'the SSH port'),
  },
  {
    id: 'ssh-user', kind: 'text', file: 'hub', key: 'cluster.transport.user', when: viaSsh,
    message: 'Service account the bridge logs in as (the account running this wizard)',
    default: () => userInfo().username,
    check: (raw) => {
      const t = raw.trim();
      if (!/^[a-z_][a-z0-9_.-]{0,31}$/.test(t)) throw new CheckFailed(`"${t}" is not a POSIX account name`);
      return t;
    },
  },
  {
    id: 'ssh-key', kind: 'text', file: 'hub', key: 'cluster.transport.identityFile', when: viaSsh,
    message: "Private key file of the service account, on the hub host (docs/setup.md step 2 makes it)",
    default: (a) => join(str(a, 'hub-state-dir') || '/var/lib/hpc-bridge', '.ssh', 'cluster_ed25519'),
    check: (raw) => hubPath(raw, 'the key file'),
  },
  {
    id: 'known-hosts', kind: 'text', file: 'hub', key: 'cluster.transport.knownHostsFile', when: viaSsh,
    message: "known_hosts file on the hub host (hpc-bridge cluster trust fills it)",
    default: (a) => join(str(a, 'hub-state-dir') || '/var/lib/hpc-bridge', '.ssh', 'known_hosts'),
    check: (raw) => hubPath(raw, 'the known_hosts file'),
  },
  {
    id: 'tunnel', kind: 'confirm', file: 'hub', key: 'tunnel.enabled',
    message: 'Reach notebooks and the hub API through an SSH tunnel from the compute nodes?',
    default: () => true,
  },
  {
    id: 'api-port', kind: 'text', file: 'hub', key: 'hubApiUrl', when: tunnel, derived: true,
    message: "Port of JupyterHub's API on the hub host's loopback, which the tunnel opens (>1023)",
    default: () => '8081',
    check: (raw) => checkPort(raw, 'the API port', 1024),
  },
  {
    // Only the tunnel needs it from here; without the tunnel the hub's doctor checks hubApiUrl on the hub host.
    id: 'hub-api-url', kind: 'text', file: 'hub', key: 'hubApiUrl', when: tunnel,
    message: "JupyterHub's API URL as the hub host reaches it",
    default: (a) => `http://127.0.0.1:${tunnel(a) ? str(a, 'api-port') : '8081'}/hub/api`,
    check: (raw, a) => {
      const u = checkHttpUrl(raw, 'the hub API URL');
      const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
      if (tunnel(a) && (!isLoopback(u.hostname) || port !== a['api-port'])) {
        throw new CheckFailed(`with the tunnel the API is reached at the hub host's 127.0.0.1:${str(a, 'api-port')}: give http://127.0.0.1:${str(a, 'api-port')}${u.pathname}`);
      }
      return raw.trim();
    },
  },
  {
    id: 'tunnel-user', kind: 'text', file: 'hub', key: 'tunnel.user', when: tunnel,
    message: 'User name the tunnel agents log in as (virtual: no account is made)',
    default: () => 'tunnelbot',
    check: (raw) => {
      const t = raw.trim();
      if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(t)) throw new CheckFailed(`"${t}" is not a POSIX account name (lower-case letters, digits, _ -; at most 32)`);
      return t;
    },
  },
  {
    id: 'hub-host', kind: 'text', file: 'hub', key: 'tunnel.publicHost', when: tunnel,
    message: "The hub host's name or IP address as compute nodes reach it",
    check: (raw) => {
      const t = raw.trim();
      if (!HOST_RE.test(t)) throw new CheckFailed(`"${t}" is not a host name or IP address`);
      return t;
    },
    soft: (host) => probeHost(String(host)),
  },
  {
    id: 'homes', kind: 'confirm', file: 'hpc', key: 'homes.create',
    message: 'Create a persistent home directory for each user?',
    default: () => true,
  },
  {
    id: 'homes-root', kind: 'text', file: 'hpc', key: 'homes.root', when: (a) => a.homes === true,
    message: 'Where the per-user homes are made',
    default: (a) => join(str(a, 'work-dir'), 'homes'),
    check: (raw) => checkCreatableDir(raw, 'the homes directory'),
  },
  {
    id: 'container', kind: 'confirm', file: 'hpc', key: 'environments.default.container', derived: true,
    message: 'Run the notebook servers in a Singularity/Apptainer container?',
    default: () => false,
  },
  {
    id: 'runtime-modules', kind: 'text', file: 'hpc', key: 'environments.default.container.loadModules', when: container,
    message: 'How the runtime is loaded: modules, e.g. "module load singularity" (empty = already on PATH)',
    default: () => '',
    check: (raw) => moduleNames(raw),
    soft: (names) => moduleDoubt(names as string[]),
  },
  {
    id: 'runtime', kind: 'text', file: 'hpc', key: 'environments.default.container.runtime', when: container,
    message: 'Container runtime command',
    default: () => (findOnPath('apptainer') ? 'apptainer' : 'singularity'),
    // A runtime that a module provides appears on PATH only after the module is loaded on the node.
    check: (raw, a) => ((a['runtime-modules'] as string[] | undefined)?.length ? parseArgv(raw, 'the runtime') : checkCommand(raw, 'the runtime')),
  },
  {
    id: 'image', kind: 'text', file: 'hpc', key: 'environments.default.container.image', when: container,
    message: 'Container image for compute nodes (.sif file or docker:// URI)',
    check: (raw) => checkImage(raw, 'the compute image'),
  },
  {
    id: 'gpu-image', kind: 'text', file: 'hpc', key: 'environments.default.container.gpuImage', when: container,
    message: 'Container image for GPU jobs (empty = the same image)',
    default: () => '',
    check: (raw) => (raw.trim() ? checkImage(raw, 'the GPU image') : null),
  },
  {
    id: 'overlay', kind: 'confirm', file: 'hpc', key: 'overlays.enabled', when: container,
    message: 'Give each user a persistent overlay image?',
    default: () => true,
  },
  {
    id: 'overlay-size', kind: 'text', file: 'hpc', key: 'overlays.sizeMiB', when: (a) => container(a) && a.overlay === true,
    message: 'Overlay size in MiB',
    default: () => '2048',
    check: (raw) => checkInteger(raw, 'the overlay size', 16, 1024 * 1024),
  },
  {
    id: 'mkfs', kind: 'text', file: 'hpc', key: 'overlays.mkfs', when: (a) => container(a) && a.overlay === true,
    message: 'mkfs command for the overlays (hpc-wrap adds -F -q -d DIR IMAGE)',
    default: defaultMkfs,
    check: (raw) => checkCommand(raw, 'the mkfs command'),
  },
  {
    id: 'overlay-dir', kind: 'text', file: 'hpc', key: 'overlays.location', when: (a) => container(a) && a.overlay === true,
    message: 'Directory of the per-user overlay images',
    default: (a) => join(str(a, 'work-dir'), 'overlays'),
    check: (raw) => checkCreatableDir(raw, 'the overlay directory'),
  },
  {
    id: 'modules', kind: 'text', file: 'hpc', key: 'environments.default.modules.load',
    message: 'Environment modules to load before the notebook server starts, e.g. "module load python/3.11" (empty = none)',
    default: () => '',
    hint: () => modulesHint(),
    // Empty: no modules section at all (null = none), not an empty one.
    check: (raw) => {
      const names = moduleNames(raw);
      return names.length ? names : undefined;
    },
    soft: (names) => moduleDoubt((names as string[] | undefined) ?? []),
  },
  {
    id: 'profiles', kind: 'text', file: 'hub', key: 'profiles',
    // The fields are explained by the checks' messages, docs/setup.md and --help; the line stays short.
    message: `Profiles students choose from: ${PROFILE_FORMAT}, several separated by ";"`,
    default: defaultProfiles,
    check: (raw) => parseProfiles(raw),
    soft: async (profiles, a) => {
      const ps = profiles as WizardProfile[];
      const doubts = [await partitionDoubt(ps, a), await moduleDoubt(ps.flatMap((p) => p.modules ?? []))];
      return doubts.filter(Boolean).join('; ') || null;
    },
  },
  {
    id: 'log-level', kind: 'select', file: 'hpc', key: 'logging.level', choices: ['error', 'warn', 'info', 'debug'],
    message: 'Log level of the application log (debug = the old enable_debug_mode)',
    default: () => 'info',
  },
  {
    id: 'log-file', kind: 'text', file: 'hpc', key: 'logging.file',
    message: 'Application log file',
    default: (a) => join(str(a, 'work-dir'), 'log', 'hpc-wrap.log'),
    check: (raw) => checkCreatableFile(raw, 'the log file'),
  },
  {
    id: 'maintenance', kind: 'confirm', file: 'hpc', key: 'maintenance.enabled',
    message: 'Start in maintenance mode (refuse new spawns)?',
    default: () => false,
  },
  {
    id: 'maintenance-message', kind: 'text', file: 'hpc', key: 'maintenance.message', when: (a) => a.maintenance === true,
    message: 'Message students see during maintenance',
    default: () => 'The cluster is in maintenance; please try again later.',
    check: (raw) => {
      if (!raw.trim() || raw.length > 1000) throw new CheckFailed('the message must have 1 to 1000 characters');
      return raw.trim();
    },
  },
  {
    id: 'maintenance-users', kind: 'text', file: 'hpc', key: 'maintenance.allowUsers', when: (a) => a.maintenance === true,
    message: 'Users who may still spawn (space-separated, empty = nobody)',
    default: () => '',
    check: (raw) =>
      words(raw).map((u) => {
        try {
          return validateUsername(u);
        } catch (err) {
          throw new CheckFailed((err as Error).message);
        }
      }),
  },
];
