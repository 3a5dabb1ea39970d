// Mapping of the legacy options about the cluster side as a whole: work dir, maintenance,
// the workload manager's commands, the hub API and tunnel, homes, logging, accounting.
// Option names of both generations (jh_config and jh_config.ini) are listed together.
import { basename } from 'node:path';
import { validateUsername } from '../../contract/names.js';
import { parseBool, splitCommand, type LegacyOption } from './legacy-options.js';
import { schedulerDefinition } from './legacy-scheduler.js';
import { changed, hpc, hub, mapped, notMapped, notNeeded, runtimeOnly, trimSlash, type Handler, type MapContext, type Outcome } from './map-context.js';

const HOST_RE = /^(?!-)[A-Za-z0-9.-]{1,253}$|^[0-9A-Fa-f:]{2,39}$/;
const ACCOUNT_RE = /^[a-z_][a-z0-9_-]{0,31}$/;

function bool(o: LegacyOption, key: string, file: 'hpc' | 'hub' = 'hpc'): Outcome {
  const b = parseBool(o.value);
  if (b === null) return notMapped(`"${o.value}" is not true or false`);
  return mapped('', file === 'hpc' ? hpc(key, b) : hub(key, b));
}

function path(o: LegacyOption, key: string): Outcome {
  const why = runtimeOnly(o);
  if (why) return notMapped(why);
  if (!o.value.trim()) return notNeeded('empty: the default applies');
  return mapped('', hpc(key, trimSlash(o.value.trim())));
}

/** The scheduler the file drives, when its commands told (else null: see ctx.scheduler.why). */
const chosen = (ctx: MapContext) => (ctx.scheduler.kind ? schedulerDefinition(ctx.scheduler.kind) : null);
const program = (words: readonly string[]) => basename(words[0] ?? '');

const submit: Handler = (o, ctx) => {
  const def = chosen(ctx);
  if (!def?.importSubmit) return notMapped(`hpc-wrap cannot tell the scheduler: ${ctx.scheduler.why}`);
  const kind = hpc('scheduler.kind', def.kind);
  const { words, syntax } = splitCommand(o.value);
  if (syntax) {
    return changed(`scheduler.kind ${def.kind} (${ctx.scheduler.why}); the command itself is not kept: "${syntax}" needs a shell, and no argv can express it: put only the submit program and its fixed options in scheduler.submit`, kind);
  }
  if (!words[0] || def.recognise(words) === 'no') {
    return changed(`scheduler.kind ${def.kind} (${ctx.scheduler.why}); ${program(words) || 'an empty command'} is not a ${def.title} submit command, so scheduler.submit keeps its default`, kind);
  }
  const { own, required } = def.importSubmit;
  const kept: string[] = [];
  const dropped: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const name = w.split('=')[0]!;
    if (w.includes('$') || Object.hasOwn(own, name)) {
      dropped.push(w);
      // "--output x" / "-o x": the value words go too ("--output=x" is one word)
      const values = Object.hasOwn(own, w) ? own[w]! : 0;
      for (let k = 0; k < values && i + 1 < words.length; k++) dropped.push(words[++i]!);
    } else kept.push(w);
  }
  const added = required.filter((r) => !kept.includes(r));
  kept.push(...added);
  const notes = [`"${o.value}" → ${JSON.stringify(kept)}: an argv array, run without a shell (${ctx.scheduler.why})`];
  if (dropped.length) notes.push(`dropped ${dropped.join(' ')}: hpc-wrap sets the job name, output file and session marker of each session itself`);
  if (added.length) notes.push(`added ${added.join(' ')}: hpc-wrap reads the job id from it`);
  return changed(notes.join('; '), kind, hpc('scheduler.submit', kept));
};

const cancel: Handler = (o, ctx) => {
  const def = chosen(ctx);
  if (!def) return notMapped(`hpc-wrap cannot tell the scheduler: ${ctx.scheduler.why}`);
  const { words, syntax } = splitCommand(o.value);
  if (syntax) return notMapped(`"${syntax}" needs a shell; scheduler.cancel is an argv`);
  const kept = words.filter((w) => !w.includes('$'));
  if (!kept[0] || def.recognise(kept) === 'no') return notMapped(`${program(kept) || 'an empty command'} is not ${def.title}'s cancel command (scheduler.cancel keeps its default)`);
  return changed(`"${o.value}" → ${JSON.stringify(kept)}: hpc-wrap appends the job id itself`, hpc('scheduler.cancel', kept));
};

const ownQuery = (ctx: MapContext) => {
  const q = chosen(ctx)?.commands?.query[0] ?? 'status';
  return `hpc-wrap builds its own query: ONE ${q} call for all jobs, in a format it parses (state, node, reason, queue position)`;
};

const stateQuery: Handler = (o, ctx) => {
  const def = chosen(ctx);
  const words = splitCommand(o.value).words;
  if (!def || !words[0]) return notNeeded(`${ownQuery(ctx)}; ${def ? 'no command given' : ctx.scheduler.why}`);
  if (def.recognise(words) === 'no') return notMapped(`${program(words)} is not ${def.title}'s status command`);
  if (words[0] === def.commands?.query[0]) return notNeeded(`${ownQuery(ctx)}; scheduler.query keeps the default ${JSON.stringify(def.commands?.query)}`);
  return changed(`${ownQuery(ctx)}; only the program is kept`, hpc('scheduler.query', [words[0]]));
};

const apiUrl: Handler = (o, ctx) => {
  try {
    new URL(o.value);
  } catch {
    return notMapped(`"${o.value}" is not a URL`);
  }
  const url = ctx.hubApiUrl()!;
  if (!ctx.tunnelOn) return mapped('', hub('hubApiUrl', o.value));
  return changed(
    `${o.value} was the compute node's end of the old API tunnel; hpc-wrap forwards each job's API calls through its own tunnel to the hub host's ${url} and sets JUPYTERHUB_API_URL itself`,
    hub('hubApiUrl', url),
  );
};

const level: Handler = (o, ctx) => {
  const decided = ctx.logLevel();
  if (decided?.from === o.name) return changed(`logging.level: ${decided.level}`, hpc('logging.level', decided.level));
  if (o.name === 'log_level') return notMapped(`"${o.value}" is not DEBUG, INFO, WARNING, ERROR or CRITICAL`);
  if (o.name === 'enable_logging') return notNeeded('hpc-wrap always writes its application log (JSON lines, no secrets)');
  return notNeeded(decided ? `logging.level comes from ${decided.from}` : 'false: logging.level stays info');
};

const notNeededAs = (note: string): Handler => () => notNeeded(note);
const notMappedAs = (note: string): Handler => () => notMapped(note);

export const CLUSTER_HANDLERS: Record<string, Handler> = {
  scratch_dir: (o) => path(o, 'workDir'),
  work_dir: (o) => path(o, 'workDir'),
  is_cluster_in_maintenance: (o) => bool(o, 'maintenance.enabled'),
  maintenance: (o) => bool(o, 'maintenance.enabled'),
  maintenance_only_user: maintenanceUser,
  maintenance_user: maintenanceUser,

  cmd_run_job: submit,
  cmd_run_job_debug: notNeededAs('hpc-wrap has one submit command; for debugging set logging.level: debug and read `hpc-wrap logs`'),
  cmd_kill_job: cancel,
  cmd_job_state: stateQuery,
  cmd_job_get_exec_node: (_o, ctx) => notNeeded(`${ownQuery(ctx)}; the node comes from the same call`),
  cmd_job_get_mapped_node: (_o, ctx) => notNeeded(`${ownQuery(ctx)}; the node comes from the same call`),
  execnode_regex: notNeededAs("the node is a field of the scheduler's status output, no regex to match (the old default \"slurmnode\" gave an empty host)"),
  cmd_job_owner: notNeededAs("hpc-wrap keeps each job's id in its session's run dir (<workDir>/users/<user>/sessions/<session>/jobid)"),
  cmd_job_batchfile: notNeededAs('the batch script is <run dir>/job.sh, recorded by hpc-wrap'),
  cluster_job_is_running: notNeededAs("hpc-wrap maps the scheduler's states with its own table"),
  cluster_job_is_stopped: notNeededAs("hpc-wrap maps the scheduler's states with its own table"),
  cluster_job_is_planned: notNeededAs("hpc-wrap maps the scheduler's states with its own table"),
  job_state_is_running: notNeededAs("hpc-wrap maps the scheduler's states with its own table"),
  job_state_is_stopped: notNeededAs("hpc-wrap maps the scheduler's states with its own table"),
  job_state_is_planned: notNeededAs("hpc-wrap maps the scheduler's states with its own table"),
  job_environment_job_id: notNeededAs('hpc-wrap passes the run dir to the job itself'),
  use_accounting: notMappedAs('hpc-wrap keeps no accounting database: the bridge records every job (GET /v1/jobs) and Slurm has sacct'),
  sqlite_database_file: notMappedAs('hpc-wrap keeps no accounting database: the bridge records every job (GET /v1/jobs) and Slurm has sacct'),

  external_hub_url: apiUrl,
  jupyterhub_api_url: apiUrl,
  ssh_tunnel_api: (o) => {
    const b = parseBool(o.value);
    if (b === null) return notMapped(`"${o.value}" is not true or false`);
    if (!b) return mapped('', hub('tunnel.enabled', false));
    return changed('one tunnel per job now carries the notebook and the API, with a key valid only for that job\'s ports', hub('tunnel.enabled', true));
  },
  ssh_tunnel_src_api_port: (o, ctx) =>
    ctx.tunnelOn ? mapped('the port of hubApiUrl', hub('hubApiUrl', ctx.hubApiUrl())) : notNeeded('ssh_tunnel_api is false'),
  ssh_tunnel_dst_api_port: notNeededAs("the compute node's end of the API forward is a free port chosen per job"),
  ssh_tunnel_api_port: notNeededAs("the compute node's end of the API forward is a free port chosen per job"),
  ssh_tunnel_user: tunnelUser,
  ssh_tunnel_user_jh: tunnelUser,
  ssh_jh_ip: hubHost,
  jupyterhub_ip: hubHost,
  ssh_priv_key: notMappedAs('no shared tunnel key: the bridge makes one key per job, valid only for that job\'s ports (docs/tunnel.md); remove the old key from the tunnel account\'s authorized_keys'),
  ssh_keypath: notMappedAs('no shared tunnel key: the bridge makes one key per job, valid only for that job\'s ports (docs/tunnel.md); remove the old key from the tunnel account\'s authorized_keys'),

  creating_user_homes: (o) => bool(o, 'homes.create'),
  home_dir: (o) => path(o, 'homes.root'),
  user_home_dir: notNeededAs("each user's home is <homes.root>/<escaped user name> (a reversible, file-name-safe form of the JupyterHub name)"),
  user_log_directory: notNeededAs('each job\'s output is <workDir>/users/<user>/sessions/<session>/output.log: `hpc-wrap logs --user U --job-output`'),

  enable_logging: level,
  enable_debug_mode: level,
  log_level: level,
  log_file: (o) => path(o, 'logging.file'),
  log_dir: logDir,
  log_directory: logDir,
  logging_save_date_fmt: notNeededAs('one log file instead of one per day; rotate it with logrotate (copytruncate)'),
};

function maintenanceUser(o: LegacyOption): Outcome {
  if (!o.value.trim()) return notNeeded('empty: nobody may spawn during maintenance');
  try {
    return changed('a list now: every user named may spawn during maintenance', hpc('maintenance.allowUsers', [validateUsername(o.value.trim())]));
  } catch (err) {
    return notMapped((err as Error).message);
  }
}

function tunnelUser(o: LegacyOption): Outcome {
  return ACCOUNT_RE.test(o.value.trim()) ? mapped('', hub('tunnel.user', o.value.trim())) : notMapped(`"${o.value}" is not a POSIX account name`);
}

function hubHost(o: LegacyOption): Outcome {
  return HOST_RE.test(o.value.trim()) ? mapped('', hub('tunnel.publicHost', o.value.trim())) : notMapped(`"${o.value}" is not a host name or IP address`);
}

function logDir(o: LegacyOption): Outcome {
  const why = runtimeOnly(o);
  if (why) return notMapped(why);
  return changed('one JSON-lines file in that directory instead of one file per day', hpc('logging.file', `${trimSlash(o.value.trim())}/hpc-wrap.log`));
}
