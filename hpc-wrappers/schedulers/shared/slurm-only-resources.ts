// Resources only the Slurm dialect expresses today (nodes, tasks per node, generic
// resources, asked for by `hpc-wrap launch`): the others refuse them with the key's name
// rather than dropping them.
import type { Resources } from '../../../config/schema.js';

/** The first Slurm-only resource set in `r` (`resources.nodes` …), or null. */
export function slurmOnlyResource(r: Resources): string | null {
  if (r.nodes != null) return 'resources.nodes';
  if (r.ntasksPerNode != null) return 'resources.ntasksPerNode';
  if (r.gres?.length) return 'resources.gres';
  return null;
}
