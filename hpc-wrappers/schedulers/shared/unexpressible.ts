// What a non-Slurm dialect refuses rather than drops: resources only the Slurm dialect
// expresses today (nodes, tasks per node, generic resources, asked for by `hpc-wrap
// launch`), and the profile keys a dialect has no option for (qos, constraint, extraArgs …),
// each refused with the key's name and what to do instead, in one wording for every dialect.
import type { Resources } from '../../../config/schema.js';
import { WrapError } from '../../errors.js';

/** The first Slurm-only resource set in `r` (`resources.nodes` …), or null. */
export function slurmOnlyResource(r: Resources): string | null {
  if (r.nodes != null) return 'resources.nodes';
  if (r.ntasksPerNode != null) return 'resources.ntasksPerNode';
  if (r.gres?.length) return 'resources.gres';
  return null;
}

/** `<title> cannot express <what>: <hint>` as the contract's "invalid" error. */
export function cannotExpress(title: string, what: string, hint: string): never {
  throw new WrapError('invalid', `${title} cannot express ${what}: ${hint}`);
}

/** The hint for each profile key the dialect has no option for; a key left out is supported. */
export interface Unsupported {
  reservation?: string;
  qos?: string;
  constraint?: string;
  /** Slurm-style options; the hint names where this dialect's own options go. */
  extraArgs?: string;
}

/** Refuses the Slurm-only resources first, then each set key the dialect cannot express, in a fixed order. */
export function refuseUnexpressible(title: string, r: Resources, unsupported: Unsupported): void {
  const slurmOnly = slurmOnlyResource(r);
  if (slurmOnly) cannotExpress(title, slurmOnly, 'give the request in scheduler.submit (hpc-wrap.yaml), or use a Slurm cluster');
  if (r.reservation && unsupported.reservation) cannotExpress(title, 'resources.reservation', unsupported.reservation);
  if (r.qos && unsupported.qos) cannotExpress(title, 'resources.qos', unsupported.qos);
  if (r.constraint && unsupported.constraint) cannotExpress(title, 'resources.constraint', unsupported.constraint);
  if (r.extraArgs.length && unsupported.extraArgs) cannotExpress(title, 'resources.extraArgs', `they are Slurm-style options (${r.extraArgs.join(' ')}); ${unsupported.extraArgs}`);
}
