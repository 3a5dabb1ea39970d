// `hpc-bridge deploy`: picks the destination, opens the way to the cluster side (an SFTP
// session on the SSH transport's verified connection, or the local filesystem), runs
// deployHpcWrap and prints what was done and what to check next.
import { posix } from 'node:path';
import type { HubBridgeConfig } from '../../config/schema.js';
import { createTransport } from '../bridge.js';
import { LocalDeployFs, type DeployFs } from './deploy-fs.js';
import { BUNDLE_FILE, CONFIG_FILE, DeployError, readBundle, readHpcConfig } from './deploy-artifacts.js';
import { deployHpcWrap, validateDest, type DeployOutcome } from './deploy.js';
import { SftpDeployFs } from './sftp-deploy-fs.js';
import { SshTransport } from '../transport/ssh-transport.js';
import { TransportError, type Transport } from '../transport/types.js';

export interface DeployCommandOptions {
  /** hub-bridge.yaml, for messages (`hpc-bridge --config FILE doctor`). */
  configFile: string | null;
  dest: string | null;
  /** --config-file: the hpc-wrap.yaml to push. */
  hpcConfig: string | null;
  /** --bundle: the hpc-wrap bundle; null = the one built next to this program. */
  bundle: string | null;
  /** Finds the bundle built next to this program (throws when there is none). */
  defaultBundle: () => string;
  keep: number;
  dryRun: boolean;
  out(text: string): void;
  err(text: string): void;
}

const DEPLOYED_SCRIPT_RE = /^(\/.+)\/current\/hpc-wrap\.mjs$/;

/** `<dest>` when cluster.hpcWrap runs `<dest>/current/hpc-wrap.mjs`. */
export function destFromHpcWrap(hpcWrap: readonly string[] | null): string | null {
  for (const a of hpcWrap ?? []) {
    const m = DEPLOYED_SCRIPT_RE.exec(a);
    if (m) return m[1]!;
  }
  return null;
}

/** How to ask a bundle for its version the way cluster.hpcWrap runs hpc-wrap (same interpreter). */
export function versionCheckArgv(hpcWrap: readonly string[] | null, bundlePath: string): string[] {
  const i = (hpcWrap ?? []).findIndex((a) => a === BUNDLE_FILE || a.endsWith(`/${BUNDLE_FILE}`));
  if (hpcWrap && i >= 0) return [...hpcWrap.slice(0, i), bundlePath, '--version'];
  if (hpcWrap?.[0] && /(^|\/)node[0-9.]*$/.test(hpcWrap[0])) return [hpcWrap[0], bundlePath, '--version'];
  return [bundlePath, '--version']; // the bundle's /bin/sh head runs node on it
}

/** What to tell the operator when cluster.hpcWrap would not run what was just deployed. */
export function hpcWrapWarnings(hpcWrap: readonly string[] | null, o: Pick<DeployOutcome, 'currentBundle' | 'currentConfig'>, configFile: string | null): string[] {
  const where = `cluster.hpcWrap in ${configFile ?? 'hub-bridge.yaml'}`;
  const suggested = JSON.stringify(['/usr/bin/node', o.currentBundle, ...(o.currentConfig ? ['--config', o.currentConfig] : [])]);
  if (!hpcWrap?.includes(o.currentBundle)) {
    return [`WARNING: ${where} is ${JSON.stringify(hpcWrap)}: the bridge does not run the deployed hpc-wrap. Set it to ${suggested} (your node path).`];
  }
  if (o.currentConfig) {
    const i = hpcWrap.indexOf('--config');
    const given = i >= 0 ? hpcWrap[i + 1] : hpcWrap.find((a) => a.startsWith('--config='))?.slice('--config='.length);
    if (given !== o.currentConfig) {
      return [`WARNING: ${where} passes ${given ? `--config ${given}` : 'no --config'}: the deployed ${o.currentConfig} is not used. Set it to ${suggested}.`];
    }
  }
  return [];
}

async function openFs(transport: Transport, config: HubBridgeConfig): Promise<DeployFs> {
  const t = config.cluster.transport;
  if (!(transport instanceof SshTransport) || t.kind !== 'ssh') return new LocalDeployFs();
  const { sftp, close } = await transport.sftp(t.connectTimeoutSeconds * 1000 + 10_000);
  return new SftpDeployFs(sftp, `sftp ${t.user}@${t.host}:${t.port}`, close);
}

function summary(o: DeployOutcome, fsDescription: string, bridgeConfig: string | null, hpcWrap: readonly string[] | null): string[] {
  const config = o.configFrom === 'given' ? 'pushed' : o.configFrom === 'kept' ? "kept from the previous version" : null;
  const lines = [
    o.dryRun
      ? `dry run: nothing was changed. hpc-wrap ${o.version} would be ${posix.dirname(o.currentBundle)} -> versions/${o.name} (${fsDescription}).`
      : `hpc-wrap ${o.version} is deployed: ${posix.dirname(o.currentBundle)} -> versions/${o.name} (${fsDescription})` +
        (o.switched ? '' : ' (current already pointed there)'),
    `  hpc-wrap:      ${o.currentBundle}`,
    `  ${CONFIG_FILE}: ${o.currentConfig ? `${o.currentConfig} (${config})` : 'none deployed (hpc-wrap uses $HPC_WRAP_CONFIG or --config from cluster.hpcWrap)'}`,
  ];
  if (o.removed.length) lines.push(`  old versions ${o.dryRun ? 'to remove' : 'removed'}: ${o.removed.join(', ')}`);
  const doctor = `hpc-bridge${bridgeConfig ? ` --config ${bridgeConfig}` : ''} doctor`;
  if (!o.dryRun && o.currentConfig === null) {
    // Deploy first, configure second: the wizard runs from the bundle just deployed.
    const i = hpcWrap?.indexOf('--config') ?? -1;
    const cfg = i >= 0 && hpcWrap?.[i + 1] ? hpcWrap[i + 1] : posix.join(posix.dirname(posix.dirname(o.currentBundle)), CONFIG_FILE);
    lines.push(`Next: if the login node has no ${cfg} yet, make it there as the service account: node ${o.currentBundle} wizard --out ${cfg} (docs/setup.md step 5); then \`${doctor} --cluster-only\`.`);
  } else if (!o.dryRun) {
    lines.push(`Next: run \`${doctor}\` to check the chain (it compares both versions; --cluster-only before JupyterHub is up).`);
  }
  return lines;
}

/** Runs the command; resolves the exit code (0 done, 1 failed, 2 usage). */
export async function deployCommand(config: HubBridgeConfig, opts: DeployCommandOptions): Promise<number> {
  const hpcWrap = config.cluster.hpcWrap;
  if (!Number.isInteger(opts.keep) || opts.keep < 1) {
    opts.err(`--keep ${opts.keep}: give a whole number of versions to keep, at least 1 (the current one)\n`);
    return 2;
  }
  const dest = opts.dest ?? destFromHpcWrap(hpcWrap);
  if (dest === null) {
    opts.err(
      `give --dest DIR: cluster.hpcWrap (${JSON.stringify(hpcWrap)}) does not run a deployed <DIR>/current/${BUNDLE_FILE}, so the destination cannot be taken from it\n`,
    );
    return 2;
  }
  let transport: Transport | null = null;
  let fs: DeployFs | null = null;
  try {
    validateDest(dest);
    let bundleFile = opts.bundle;
    if (bundleFile === null) {
      try {
        bundleFile = opts.defaultBundle();
      } catch {
        throw new DeployError('hpc-wrap is not built (no dist/hpc-wrap.mjs next to hpc-bridge): run `npm run build`, or give --bundle FILE');
      }
    }
    const bundle = await readBundle(bundleFile, 'Run `npm run build`, or give --bundle FILE.');
    const hpcConfig = opts.hpcConfig === null ? null : readHpcConfig(opts.hpcConfig);
    transport = createTransport(config, { configFile: opts.configFile });
    fs = await openFs(transport, config);
    const t = transport;
    const outcome = await deployHpcWrap(
      { dest, bundle, config: hpcConfig, keep: opts.keep, dryRun: opts.dryRun },
      {
        fs,
        out: (line) => opts.out(`${line}\n`),
        remoteVersion: async (bundlePath) => {
          const argv = versionCheckArgv(hpcWrap, bundlePath);
          const r = await t.run(argv, { timeoutMs: config.cluster.commandTimeoutSeconds * 1000 });
          if (r.exitCode !== 0) throw new Error(`\`${argv.join(' ')}\` exited ${r.exitCode}: ${r.stderr.trim().slice(-500)}`);
          return r.stdout;
        },
      },
    );
    opts.out(`${summary(outcome, fs.description, opts.configFile, hpcWrap).join('\n')}\n`);
    for (const w of hpcWrapWarnings(hpcWrap, outcome, opts.configFile)) opts.err(`${w}\n`);
    return 0;
  } catch (err) {
    const known = err instanceof DeployError || err instanceof TransportError;
    opts.err(`hpc-bridge deploy: ${known ? '' : 'failed: '}${(err as Error).message}\n`);
    return 1;
  } finally {
    await fs?.close();
    await transport?.close();
  }
}
