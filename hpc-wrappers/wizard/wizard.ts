// `hpc-wrap wizard`: ask (or read flags), build hpc-wrap.yaml and the hub's part
// (hub-bridge.yaml), validate both with the loaders the programs use, write them without
// silently replacing anything, and say what to run next.
import { join, resolve } from 'node:path';
import { ConfigError } from '../../config/load-hpc-wrap.js';
import { answersFromFlags, WizardInputError } from './non-interactive.js';
import { chooseOutput, OutputRefused, writeConfigText } from './output-file.js';
import { moduleDirs } from './module-probe.js';
import { QUESTIONS, type ConfigFile } from './questions.js';
import { buildConfigs, FILE_NAMES, renderValidated, setPath, type ConfigObject } from './wizard-config.js';
import { selfCommand } from '../self-command.js';

export interface WizardOptions {
  interactive: boolean;
  /** Answers given as flags, by question id. */
  flags: Record<string, unknown>;
  out: string;
  hubOut: string;
  force: boolean;
  acceptUnreachable: boolean;
}

const say = (s: string) => process.stdout.write(s);

function nextSteps(hpcPath: string | null, hubPath: string | null, hub: ConfigObject): string {
  const lines = ['', 'Next steps:'];
  if (hpcPath) {
    lines.push(`  hpc-wrap --config ${hpcPath} config check     # the effective configuration`);
    lines.push(`  hpc-wrap --config ${hpcPath} doctor           # work dir writable, scheduler reachable (exit 1 if not)`);
  }
  if (hubPath) {
    const t = (hub.cluster as { transport?: { kind?: string; user?: string; host?: string } } | undefined)?.transport;
    const from = t?.kind === 'ssh' ? `${t.user}@${t.host}:${hubPath}` : hubPath;
    lines.push(`  on the hub host: scp ${from} /etc/hpc-bridge/hub-bridge.yaml   (merge it if you already have one)`);
    lines.push('  then there:      hpc-bridge --config /etc/hpc-bridge/hub-bridge.yaml doctor --cluster-only   (docs/setup.md step 6)');
  }
  lines.push('  hpc-wrap config docs                                # every other key with its default');
  return `${lines.join('\n')}\n`;
}

/**
 * The bridge runs exactly this hpc-wrap with exactly the hpc-wrap.yaml written here: run
 * the wizard as `<dest>/current/hpc-wrap.mjs wizard` (after `hpc-bridge deploy`) and the
 * hub's cluster.hpcWrap follows every later deploy.
 */
/** The hub's files under its one state directory (docs/setup.md step 1 makes it, 0700). */
function setHubState(hub: ConfigObject, stateDir: unknown): void {
  if (typeof stateDir !== 'string') return;
  setPath(hub, ['stateDb'], join(stateDir, 'bridge.sqlite'));
  setPath(hub, ['apiTokenFile'], join(stateDir, 'api-token'));
  setPath(hub, ['hubService', 'apiTokenFile'], join(stateDir, 'hub-service-token'));
  setPath(hub, ['metrics', 'tokenFile'], join(stateDir, 'metrics-token'));
  if ((hub.tunnel as ConfigObject | undefined)?.enabled === true) setPath(hub, ['tunnel', 'hostKeyFile'], join(stateDir, 'tunnel-host-key'));
}

/**
 * The MODULEPATH directories that hold each environment's modules (the notebook's, a
 * profile's and the container runtime's) become its modules.modulePath: the bridge starts
 * jobs over SSH, whose environment has no login shell's MODULEPATH, so `module load` on the
 * node would find nothing.
 */
async function setModulePath(hpc: ConfigObject): Promise<void> {
  for (const env of Object.values((hpc.environments as Record<string, ConfigObject> | undefined) ?? {})) {
    const load = ((env.modules as ConfigObject | undefined)?.load as string[] | undefined) ?? [];
    const runtime = ((env.container as ConfigObject | undefined)?.loadModules as string[] | undefined) ?? [];
    const dirs = await moduleDirs([...load, ...runtime]);
    if (dirs.length) setPath(env, ['modules', 'modulePath'], dirs);
  }
}

function setHpcWrap(hub: ConfigObject, hpcOut: string): void {
  setPath(hub, ['cluster', 'hpcWrap'], [process.execPath, selfCommand().at(-1)!, '--config', hpcOut]);
}

/** Runs the wizard; returns the exit status (0 written, 1 nothing written, 2 invalid input). */
export async function runWizard(opts: WizardOptions): Promise<number> {
  try {
    let answers;
    if (opts.interactive) {
      const { askInteractively } = await import('./interactive.js');
      say('hpc-wrap wizard: writes hpc-wrap.yaml (this cluster) and hub-bridge.yaml (the hub host). Enter keeps the [default].\n');
      answers = await askInteractively(opts.flags);
    } else {
      answers = await answersFromFlags(opts.flags, opts.acceptUnreachable);
    }
    const configs = buildConfigs(QUESTIONS, answers);
    setHubState(configs.hub, answers['hub-state-dir']);
    await setModulePath(configs.hpc);
    const written: Record<ConfigFile, string | null> = { hpc: null, hub: null };
    for (const file of ['hpc', 'hub'] as const) {
      const wanted = file === 'hpc' ? opts.out : opts.hubOut;
      if (file === 'hub') setHpcWrap(configs.hub, written.hpc ?? resolve(opts.out));
      const text = renderValidated(file, configs[file], resolve(wanted)); // validated before anything is written
      const path = await chooseOutput(wanted, opts);
      if (!path) {
        say(`${FILE_NAMES[file]} not written.\n`);
        continue;
      }
      const final = path === resolve(wanted) ? text : renderValidated(file, configs[file], path);
      writeConfigText(path, final);
      written[file] = path;
      say(`Wrote ${path}\n`);
    }
    say(nextSteps(written.hpc, written.hub, configs.hub));
    return written.hpc ? 0 : 1;
  } catch (err) {
    if (err instanceof WizardInputError || err instanceof ConfigError || err instanceof OutputRefused) {
      process.stderr.write(`hpc-wrap wizard: ${err.message}\n`);
      return 2;
    }
    if (err instanceof Error && err.name === 'ExitPromptError') {
      process.stderr.write('\nhpc-wrap wizard: cancelled; nothing more written.\n');
      return 130;
    }
    throw err;
  }
}
