// Real PBS/Torque-style commands for system tests: Slurm's own Torque compatibility
// wrappers from Debian's slurm-wlm-torque (qsub/qstat/qdel in Perl over libslurm-perl),
// extracted (not installed: the package conflicts with gridengine-client) under
// /opt/slurm-torque by .ci/run. They drive a harness Slurm through SLURM_CONF.
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';

/** Where .ci/run extracts the package (`dpkg -x slurm-wlm-torque_*.deb /opt/slurm-torque`). */
export function slurmTorqueRoot(): string {
  return process.env.SLURM_TORQUE_DIR ?? '/opt/slurm-torque';
}

export const PBS_COMMANDS = ['qsub', 'qstat', 'qdel'] as const;

/** Why the wrappers cannot be used here, or null when they can. */
export function pbsCommandsMissing(): string | null {
  const bin = path.join(slurmTorqueRoot(), 'usr/bin');
  for (const c of PBS_COMMANDS) {
    if (!existsSync(path.join(bin, c))) {
      return `${path.join(bin, c)} is missing: extract slurm-wlm-torque there (apt-get download slurm-wlm-torque && dpkg -x slurm-wlm-torque_*.deb ${slurmTorqueRoot()}), or set SLURM_TORQUE_DIR`;
    }
  }
  return null;
}

/**
 * A bin dir with qsub/qstat/qdel linked from the extracted package and sbatch/salloc/srun
 * from the installed Slurm: the wrappers run `${FindBin::Bin}/sbatch`, i.e. the sbatch next
 * to the qsub link. Returns the dir (put it first on PATH, or use its absolute paths).
 */
export function pbsCommandsDir(dir: string): string {
  const missing = pbsCommandsMissing();
  if (missing) throw new Error(missing);
  const bin = path.join(path.resolve(dir), 'pbs-bin');
  mkdirSync(bin, { recursive: true, mode: 0o755 });
  const links: [string, string][] = [
    ...PBS_COMMANDS.map((c): [string, string] => [c, path.join(slurmTorqueRoot(), 'usr/bin', c)]),
    ...['sbatch', 'salloc', 'srun'].map((c): [string, string] => [c, `/usr/bin/${c}`]),
  ];
  for (const [name, target] of links) {
    const link = path.join(bin, name);
    if (!existsSync(link)) symlinkSync(target, link);
  }
  return bin;
}
