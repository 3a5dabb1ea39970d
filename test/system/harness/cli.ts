// Local dev cluster:
//   node --import tsx test/system/harness/cli.ts up [--dir D] [--gridengine] [--hub] [--user NAME]...
//   node --import tsx test/system/harness/cli.ts down --dir D
// `up` starts munge + slurmctld + slurmd (with --gridengine also a Grid Engine in D/ge;
// with --hub a JupyterHub with the simple spawner in D/hub), prints how to use them and
// exits; the daemons keep running. `down` stops everything by the pids recorded in D.
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import { simpleSpawnerConfig } from './hub-config.js';
import { startGridEngine, stopGridEngineDir } from './gridengine.js';
import { startHub, stopHubDir } from './jupyterhub.js';
import { startSlurm, stopSlurmDir } from './slurm.js';

function parse(argv: string[]) {
  const [cmd, ...rest] = argv;
  let dir: string | undefined;
  let hub = false;
  let gridengine = false;
  const users: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '--dir') dir = rest[++i];
    else if (a === '--hub') hub = true;
    else if (a === '--gridengine') gridengine = true;
    else if (a === '--user') users.push(rest[++i] ?? '');
    else throw new Error(`unknown argument ${a}`);
  }
  return { cmd, dir, hub, gridengine, users };
}

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  if (a.cmd === 'up') {
    const dir = path.resolve(a.dir ?? mkdtempSync('/tmp/hpc-harness-'));
    mkdirSync(dir, { recursive: true });
    const slurm = await startSlurm({ dir, users: a.users });
    console.log(`slurm: node ${slurm.nodeName}, slurmctld port ${slurm.ports.slurmctld}, slurmd port ${slurm.ports.slurmd}`);
    console.log(`export SLURM_CONF=${slurm.confPath}`);
    if (a.gridengine) {
      const ge = await startGridEngine({ dir: path.join(dir, 'ge'), users: a.users });
      console.log(`grid engine: queue ${ge.queue}, PE ${ge.pe}, qmaster port ${ge.ports.qmaster}`);
      console.log(`export ${Object.entries(ge.env).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    }
    if (a.hub) {
      const hubDir = path.join(dir, 'hub');
      const hub = await startHub({ dir: hubDir, spawnerClassConfig: simpleSpawnerConfig(hubDir) });
      console.log(`jupyterhub: ${hub.url}  (API ${hub.apiUrl}, service token ${hub.token})`);
      console.log(`hub log: ${path.join(hubDir, 'jupyterhub.log')}`);
    }
    console.log(`stop with: node --import tsx ${path.relative(process.cwd(), import.meta.filename)} down --dir ${dir}`);
  } else if (a.cmd === 'down') {
    if (!a.dir) throw new Error('down needs --dir D');
    const dir = path.resolve(a.dir);
    if (existsSync(path.join(dir, 'hub'))) await stopHubDir(path.join(dir, 'hub'));
    if (existsSync(path.join(dir, 'ge'))) await stopGridEngineDir(path.join(dir, 'ge'));
    await stopSlurmDir(dir);
    console.log(`stopped everything in ${dir}`);
  } else {
    console.error('usage: cli.ts up [--dir D] [--gridengine] [--hub] [--user NAME]... | down --dir D');
    process.exitCode = 2;
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
