// Slurm job states (squeue %T, sacct State) mapped onto the generic JobState with ONE table.
import type { JobState } from '../types.js';

export const SLURM_STATE_TABLE: Readonly<Record<string, JobState>> = {
  PENDING: 'pending',
  CONFIGURING: 'pending',
  REQUEUED: 'pending',
  REQUEUE_FED: 'pending',
  REQUEUE_HOLD: 'pending',
  RESV_DEL_HOLD: 'pending',
  RESIZING: 'pending',
  SUSPENDED: 'pending',
  SPECIAL_EXIT: 'pending',
  POWER_UP_NODE: 'pending',
  RUNNING: 'running',
  SIGNALING: 'running',
  STAGE_OUT: 'running',
  STOPPED: 'running',
  COMPLETING: 'completing',
  COMPLETED: 'done',
  FAILED: 'failed',
  TIMEOUT: 'failed',
  NODE_FAIL: 'failed',
  OUT_OF_MEMORY: 'failed',
  BOOT_FAIL: 'failed',
  DEADLINE: 'failed',
  PREEMPTED: 'failed',
  CANCELLED: 'cancelled',
  REVOKED: 'cancelled',
};

/** "CANCELLED by 1000" / "CANCELLED+" (sacct spellings) are accepted too. */
export function mapSlurmState(raw: string): JobState {
  const word = raw.trim().toUpperCase().split(/[\s+]/)[0] ?? '';
  return SLURM_STATE_TABLE[word] ?? 'unknown';
}
