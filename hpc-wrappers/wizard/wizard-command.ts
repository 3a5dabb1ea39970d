// yargs wiring of `hpc-wrap wizard`: one flag per question (generated from the question
// table), plus the output and mode options.
import { dirname, join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { QUESTIONS } from './questions.js';
import { runWizard } from './wizard.js';

export function wizardOptions<T>(y: Argv<T>): Argv<T> {
  let out = y
    .option('non-interactive', { type: 'boolean', default: false, describe: 'take every answer from the flags below (defaults for the rest); a failed check exits 2 with the reason' })
    .option('out', { type: 'string', requiresArg: true, describe: 'where to write hpc-wrap.yaml (default: --config, else ./hpc-wrap.yaml)' })
    .option('hub-out', { type: 'string', requiresArg: true, describe: "where to write the hub's part, hub-bridge.yaml (default: next to --out)" })
    .option('force', { type: 'boolean', default: false, describe: 'replace existing files without asking' })
    .option('accept-unreachable', { type: 'boolean', default: false, describe: 'non-interactive: keep an answer that cannot be confirmed from here (hub URL or host, scheduler environment, modules Lmod does not find, partitions the scheduler does not report)' })
    .group(['non-interactive', 'out', 'hub-out', 'force', 'accept-unreachable'], 'Wizard:');
  for (const q of QUESTIONS) {
    const describe = `${q.message} → ${q.file === 'hpc' ? 'hpc-wrap.yaml' : 'hub-bridge.yaml'} ${q.key}`;
    if (q.kind === 'confirm') out = out.option(q.id, { type: 'boolean', describe });
    else if (q.kind === 'select') out = out.option(q.id, { type: 'string', choices: [...(q.choices ?? [])], describe });
    else out = out.option(q.id, { type: 'string', requiresArg: true, describe });
  }
  return out
    .group(QUESTIONS.map((q) => q.id), 'Answers (interactive: the defaults shown):')
    .example('$0 wizard', 'ask in the terminal, write ./hpc-wrap.yaml and ./hub-bridge.yaml')
    .example('$0 wizard --non-interactive --work-dir /scratch/jh --scheduler slurm --hub-host hub.example.org --out /etc/hpc-wrap.yaml', 'from flags')
    .example('$0 wizard --modules python/3.11 --profiles "small 1 2G 01:00:00 debug; gpu 8 32G 04:00:00 gpu 1 +cuda/12.2"', 'profiles: NAME CPUS MEMORY(MiB, or 2G) WALLTIME(Slurm time) [PARTITION(- = default) [GPUS]] [+MODULE(this profile only) ...]');
}

export async function wizardHandler(a: Record<string, unknown>): Promise<void> {
  const flags: Record<string, unknown> = {};
  // A flag given twice: the last one counts (yargs collects repeats into an array).
  for (const q of QUESTIONS) if (a[q.id] !== undefined) flags[q.id] = Array.isArray(a[q.id]) ? (a[q.id] as unknown[]).at(-1) : a[q.id];
  const out = resolve(String(a.out ?? a.config ?? 'hpc-wrap.yaml'));
  const hubOut = resolve(String(a['hub-out'] ?? join(dirname(out), 'hub-bridge.yaml')));
  const interactive = a['non-interactive'] !== true;
  if (interactive && !(process.stdin.isTTY && process.stdout.isTTY)) {
    process.stderr.write('hpc-wrap wizard: needs a terminal; without one, give the answers as flags with --non-interactive (see --help)\n');
    process.exitCode = 2;
    return;
  }
  process.exitCode = await runWizard({
    interactive,
    flags,
    out,
    hubOut,
    force: a.force === true,
    acceptUnreachable: a['accept-unreachable'] === true,
  });
}
