// The files of a one-host harness Grid Engine (Debian's gridengine 8.1.9) living entirely
// in one dir: a private SGE_ROOT (symlinks to the installed binaries plus our own cell),
// classic spooling, and the objects qconf loads (scheduler config, queue, parallel env).
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The installed SGE_ROOT whose bin/lib/util we link to. */
export const SYSTEM_SGE_ROOT = '/var/lib/gridengine';
/** Debian's template of the global configuration (execd_spool_dir is replaced). */
export const DEFAULT_CONFIGURATION = '/usr/share/gridengine/default-configuration';
export const DEFAULT_COMPLEXES = '/usr/share/gridengine/util/resources/centry';
export const DEFAULT_USERSETS = '/usr/share/gridengine/util/resources/usersets';
/** The daemons switch to this account; spool dirs must belong to it. Debian creates it. */
export const SGE_ADMIN = 'sgeadmin';
export const GE_CELL = 'harness';
export const GE_QUEUE = 'harness.q';
export const GE_PE = 'smp';

export function gridEnginePaths(dir: string) {
  const root = path.join(dir, 'root');
  const common = path.join(root, GE_CELL, 'common');
  const qmasterSpool = path.join(dir, 'qmaster');
  const execdSpool = path.join(dir, 'execd');
  return {
    root,
    common,
    bootstrap: path.join(common, 'bootstrap'),
    actQmaster: path.join(common, 'act_qmaster'),
    hostAliases: path.join(common, 'host_aliases'),
    qmasterSpool,
    execdSpool,
    /** The qmaster's pid and log (it writes both into its spool dir). */
    qmasterPid: path.join(qmasterSpool, 'qmaster.pid'),
    qmasterMessages: path.join(qmasterSpool, 'messages'),
    qmasterOut: path.join(dir, 'qmaster.out'),
    /** The execd's spool is <execd_spool_dir>/<its host name>. */
    execdPid: path.join(execdSpool, 'localhost', 'execd.pid'),
    execdMessages: path.join(execdSpool, 'localhost', 'messages'),
    execdOut: path.join(dir, 'execd.out'),
    conf: path.join(dir, 'conf'),
    info: path.join(dir, 'harness-gridengine.json'),
  };
}

export function renderBootstrap(p: ReturnType<typeof gridEnginePaths>): string {
  return [
    `admin_user              ${SGE_ADMIN}`,
    'default_domain          none',
    'ignore_fqdn             true',
    'spooling_method         classic',
    'spooling_lib            libspoolc',
    `spooling_params         ${p.common};${p.qmasterSpool}`,
    'binary_path             /usr/sbin',
    `qmaster_spool_dir       ${p.qmasterSpool}`,
    'security_mode           none',
    'listener_threads        2',
    'worker_threads          2',
    'scheduler_threads       1',
    '',
  ].join('\n');
}

/**
 * Every name this host answers to on loopback. commlib refuses a client whose name
 * resolves to another canonical name ("access denied"), so all of them are aliases of
 * `localhost`, which is also act_qmaster and the exec host's name.
 */
export function loopbackNames(hostsFile = '/etc/hosts'): string[] {
  const names = new Set<string>(['localhost']);
  const host = os.hostname();
  if (host) {
    names.add(host);
    names.add(host.split('.')[0]!);
  }
  if (existsSync(hostsFile)) {
    for (const line of readFileSync(hostsFile, 'utf8').split('\n')) {
      const [addr, ...rest] = line.replace(/#.*/, '').trim().split(/\s+/);
      if (addr && (/^127\./.test(addr) || addr === '::1')) for (const n of rest) if (n) names.add(n);
    }
  }
  return [...names];
}

export function renderHostAliases(names: readonly string[]): string {
  return `${['localhost', ...names.filter((n) => n !== 'localhost')].join(' ')}\n`;
}

/**
 * Debian's default global configuration with our execd spool dir and a 5 s load report
 * (default 40 s): after a qmaster restart the execd is heard from again within seconds.
 */
export function renderConfiguration(execdSpool: string): string {
  return readFileSync(DEFAULT_CONFIGURATION, 'utf8')
    .replace(/^execd_spool_dir\s+.*$/m, `execd_spool_dir        ${execdSpool}`)
    .replace(/^load_report_time\s+.*$/m, 'load_report_time       00:00:05');
}

/** The scheduler configuration: a short schedule interval so that a job starts within ~2 s. */
export function renderSchedulerConf(intervalSeconds: number): string {
  const s = Math.max(1, Math.round(intervalSeconds));
  const hms = `0:${Math.floor(s / 60)}:${s % 60}`;
  return [
    'algorithm default',
    `schedule_interval ${hms}`,
    'maxujobs 0',
    'queue_sort_method load',
    'job_load_adjustments NONE',
    'load_adjustment_decay_time 0:0:0',
    'load_formula np_load_avg',
    'schedd_job_info true',
    'flush_submit_sec 1',
    'flush_finish_sec 1',
    'params none',
    'reprioritize_interval 0:0:0',
    'halftime 168',
    'usage_weight_list cpu=1.000000,mem=0.000000,io=0.000000',
    'compensation_factor 5.000000',
    'weight_user 0.250000',
    'weight_project 0.250000',
    'weight_department 0.250000',
    'weight_job 0.250000',
    'weight_tickets_functional 0',
    'weight_tickets_share 0',
    'share_override_tickets TRUE',
    'share_functional_shares TRUE',
    'max_functional_jobs_to_schedule 200',
    'report_pjob_tickets TRUE',
    'max_pending_tasks_per_job 50',
    'halflife_decay_list none',
    'policy_hierarchy OFS',
    'weight_ticket 0.500000',
    'weight_waiting_time 0.278000',
    'weight_deadline 3600000.000000',
    'weight_urgency 0.500000',
    'weight_priority 0.000000',
    'max_reservation 0',
    'default_duration INFINITY',
    '',
  ].join('\n');
}

/** A parallel environment for multi-core jobs on one host (`qsub -pe smp N`). */
export function renderPe(): string {
  return [
    `pe_name            ${GE_PE}`,
    'slots              9999',
    'user_lists         NONE',
    'xuser_lists        NONE',
    'start_proc_args    NONE',
    'stop_proc_args     NONE',
    'allocation_rule    $pe_slots',
    'control_slaves     FALSE',
    'job_is_first_task  TRUE',
    'urgency_slots      min',
    'accounting_summary FALSE',
    'qsort_args         NONE',
    '',
  ].join('\n');
}

/**
 * The one queue, on the one host, with `slots` slots (more than the machine's cores, like
 * the Slurm harness' CPUs=20) and no load threshold (a busy 2-core machine would otherwise
 * put the queue into alarm state and nothing would start). `qconf -Aq` needs every attribute.
 */
export function renderQueue(slots: number): string {
  const attrs: [string, string][] = [
    ['qname', GE_QUEUE], ['hostlist', 'localhost'], ['seq_no', '0'], ['load_thresholds', 'NONE'],
    ['suspend_thresholds', 'NONE'], ['nsuspend', '1'], ['suspend_interval', '00:05:00'], ['priority', '0'],
    ['min_cpu_interval', '00:05:00'], ['processors', 'UNDEFINED'], ['qtype', 'BATCH INTERACTIVE'], ['ckpt_list', 'NONE'],
    ['pe_list', GE_PE], ['rerun', 'FALSE'], ['slots', String(slots)], ['tmpdir', '/tmp'], ['shell', '/bin/sh'],
    ['prolog', 'NONE'], ['epilog', 'NONE'], ['shell_start_mode', 'unix_behavior'], ['starter_method', 'NONE'],
    ['suspend_method', 'NONE'], ['resume_method', 'NONE'], ['terminate_method', 'NONE'], ['notify', '00:00:60'],
    ['owner_list', 'NONE'], ['user_lists', 'NONE'], ['xuser_lists', 'NONE'], ['subordinate_list', 'NONE'],
    ['complex_values', 'NONE'], ['projects', 'NONE'], ['xprojects', 'NONE'], ['calendar', 'NONE'],
    ['initial_state', 'default'],
    ...['rt', 'cpu', 'fsize', 'data', 'stack', 'core', 'rss', 'vmem'].flatMap((l): [string, string][] => [[`s_${l}`, 'INFINITY'], [`h_${l}`, 'INFINITY']]),
  ];
  return attrs.map(([k, v]) => `${k.padEnd(20)} ${v}`).join('\n') + '\n';
}
