// The session marker (JobSubmission.marker) as schedulers without a comment field keep it:
// a variable of the job's context (Grid Engine `-ac`) or environment (PBS `-v`).
import { WrapError } from '../../errors.js';

export const MARKER_VARIABLE = 'HPC_BRIDGE_MARKER';

/** `HPC_BRIDGE_MARKER=<marker>`; the marker must survive a comma-separated variable list. */
export function markerAssignment(marker: string): string {
  if (!/^[A-Za-z0-9:._-]{1,128}$/.test(marker)) throw new WrapError('internal', `the session marker ${JSON.stringify(marker.slice(0, 80))} cannot be passed as a job variable`);
  return `${MARKER_VARIABLE}=${marker}`;
}

/** The marker in a `A=b,C=d` variable list (PBS Variable_List), or null. */
export function markerInList(list: string | undefined): string | null {
  for (const part of (list ?? '').split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === MARKER_VARIABLE) return part.slice(eq + 1).trim();
  }
  return null;
}
