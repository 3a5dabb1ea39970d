// What a student reads when a start is refused before any job runs: by the scheduler at
// submit (bad partition, account, QOS, limits), by maintenance mode, by the bridge's own
// check of a profile, or because the login node could not be reached. One plain sentence
// (see progress-messages.ts), then the scheduler's own words as details.
import { reference, studentMessage } from './progress-messages.js';

interface Ref {
  jobId: string | null;
  number: number;
}

/** Known scheduler refusals (sbatch's words) → what it means and whose problem it is. */
const REFUSALS: Array<{ re: RegExp; says: (m: RegExpExecArray, partition: string | null) => string; yours?: boolean; transient?: boolean }> = [
  { re: /invalid partition (?:name )?specified(?::\s*(\S+))?/i, says: (m, p) => `the cluster has no partition "${m[1] ?? p ?? '?'}"` },
  { re: /invalid account or account\/partition combination/i, says: () => 'the account of this choice may not use its partition (or is not yours)' },
  { re: /invalid qos specification/i, says: () => 'the quality of service (QOS) of this choice is not valid for your account' },
  { re: /requested node configuration is not available/i, says: () => 'no node of the cluster has the CPUs, memory or GPUs this choice asks for' },
  { re: /more processors requested than permitted/i, says: () => 'it asks for more CPUs than its partition allows' },
  { re: /memory required by task is not available|memory specification can not be satisfied/i, says: () => 'it asks for more memory than a node of its partition has' },
  { re: /requested time limit is invalid|time limit.*(?:exceeds|invalid)/i, says: () => 'the time limit of this choice is longer than its partition allows' },
  { re: /access\/permission denied|user's group not permitted|not permitted to use/i, says: () => 'your account may not use the partition of this choice' },
  { re: /job violates accounting\/qos policy|MaxSubmit|submit limit/i, says: () => 'you have reached the most jobs you may have queued at once', yours: true },
  { re: /unable to contact slurm controller|socket timed out|connection refused|zero bytes were transmitted/i, says: () => 'the scheduler does not answer right now', transient: true },
];

/** The scheduler (or hpc-wrap's validation) refused the job at submit. */
export function schedulerRefusal(text: string, s: Ref & { profileName: string; partition: string | null }): string {
  const ref = reference(s);
  for (const r of REFUSALS) {
    const m = r.re.exec(text);
    if (!m) continue;
    const what = r.says(m, s.partition);
    if (r.transient) {
      return studentMessage(`The cluster could not take your server right now (${what}), so nothing was started: try again in a few minutes (reference: ${ref}).`, text);
    }
    if (r.yours) {
      return studentMessage(`The cluster refused to start your server: ${what}. Stop a server you no longer need, or wait, then try again (reference: ${ref}).`, text);
    }
    return studentMessage(
      `The cluster refused to start "${s.profileName}": ${what}. This is a setup problem of that choice, not yours: pick another choice and tell support (reference: ${ref}).`,
      text,
    );
  }
  return studentMessage(`The cluster refused to start your server, so nothing was started: pick another choice or try again later, and tell support if it happens again (reference: ${ref}).`, text);
}

/** Maintenance mode: the operator's own message is the sentence. */
export function maintenanceMessage(operatorMessage: string): string {
  return operatorMessage.trim() || 'The cluster is in maintenance; please try again later.';
}

/** The login node / hpc-wrap could not be reached to submit (after the retries). */
export function submitFailedMessage(error: string, s: Ref): string {
  return studentMessage(
    `The cluster could not be reached to start your server, so nothing was started: try again in a few minutes, and tell support if it persists (reference: ${reference(s)}).`,
    error,
  );
}

export function lostRequestMessage(s: Ref): string {
  return `Your request was lost when the cluster service restarted, so nothing was started: please start your server again (reference: ${reference(s)}).`;
}

/** Why a profile cannot run now (the partition check); shown next to the choice in the form. */
export function partitionUnavailable(partition: string, state: string | null): string {
  if (state) return `its partition "${partition}" is ${state} on the cluster at the moment`;
  return `the cluster has no partition "${partition}"`;
}

/** A start of a profile the partition check marked unavailable, refused at once. */
export function profileUnavailableMessage(profileName: string, reason: string): string {
  return `"${profileName}" cannot start now: ${reason}. Pick another choice, and tell support if you need this one.`;
}
