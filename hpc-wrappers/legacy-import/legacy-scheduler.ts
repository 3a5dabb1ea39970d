// Which scheduler a legacy jh_config drives, from its commands (cmd_run_job, cmd_kill_job,
// cmd_job_state), asking every registered scheduler whether they are its own. An import
// that cannot tell must fail: writing no scheduler would silently mean `fork`, notebooks
// on the login node.
import { SCHEDULERS, schedulerDefinition, schedulerKinds, type SchedulerDefinition } from '../schedulers/registry.js';
import { splitCommand } from './legacy-options.js';

export interface LegacyScheduler {
  /** The kind, or null when the commands do not tell. */
  kind: string | null;
  /** How it was decided, or why not (for the report and the error). */
  why: string;
}

const COMMAND_OPTIONS = ['cmd_run_job', 'cmd_kill_job', 'cmd_job_state'];

const program = (words: readonly string[]) => (words[0] ?? '').split('/').pop() ?? '';

/** The known batch schedulers, for messages. */
export function knownSchedulers(): string {
  return SCHEDULERS.filter((s) => s.batchSystem).map((s) => `${s.kind} (${s.title})`).join(', ');
}

export function determineScheduler(value: (name: string) => string | undefined, override: string | null = null): LegacyScheduler {
  if (override) {
    if (!schedulerKinds().includes(override)) return { kind: null, why: `--scheduler ${override} is not a scheduler hpc-wrap knows: ${knownSchedulers()}` };
    return { kind: override, why: `--scheduler ${override}` };
  }
  const commands = COMMAND_OPTIONS.map((name) => ({ name, words: splitCommand(value(name) ?? '').words })).filter((c) => c.words.length > 0);
  if (commands.length === 0) return { kind: null, why: 'the file names no workload manager command (cmd_run_job)' };
  const batch = SCHEDULERS.filter((s) => s.importSubmit !== null);
  const verdicts = batch.map((s) => ({ s, r: commands.map((c) => s.recognise(c.words)) }));
  const fits = (v: { r: string[] }) => !v.r.includes('no');
  const certain = verdicts.filter((v) => v.r.includes('certain') && fits(v));
  if (certain.length === 1) return decided(certain[0]!.s, commands);
  const possible = verdicts.filter((v) => v.r.includes('possible') && fits(v));
  const programs = [...new Set(commands.map((c) => program(c.words)))].join(', ');
  if (certain.length === 0 && possible.length === 1) return decided(possible[0]!.s, commands);
  if (certain.length + possible.length > 1) {
    const names = [...new Set([...certain, ...possible].map((v) => v.s.kind))].join(', ');
    return { kind: null, why: `${programs} belong to several schedulers (${names}); nothing in the commands tells which` };
  }
  const ccs = commands.some((c) => /^ccs/.test(program(c.words))) ? ' (ccsalloc/ccskill are CCS, the workload manager of the first JHub-HPC-Interface at PC²)' : '';
  return { kind: null, why: `${programs} is not a command of any scheduler hpc-wrap has an adapter for${ccs}; known: ${knownSchedulers()}` };
}

function decided(s: SchedulerDefinition, commands: { name: string; words: string[] }[]): LegacyScheduler {
  return { kind: s.kind, why: `${s.title}, from ${commands.map((c) => `${c.name} (${program(c.words)})`).join(', ')}` };
}

export { schedulerDefinition };
