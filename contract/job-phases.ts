// The names of a job's states, the server's phases and the tunnel's states (contract/
// jobstate.ts builds its schemas on them). No zod here: the code in every job that only
// writes status.json (hpc-wrappers/run-dir-files.ts) loads these, not the schemas.
export const JOB_STATES = ['pending', 'running', 'completing', 'done', 'failed', 'cancelled', 'unknown'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const FINISHED_JOB_STATES: ReadonlySet<JobState> = new Set(['done', 'failed', 'cancelled']);

/** start-env's phase in status.json. */
export const SERVER_PHASES = ['environment', 'starting', 'listening', 'exited'] as const;
export type ServerPhase = (typeof SERVER_PHASES)[number];

/** The tunnel agent's state in status.json (null: the job has no tunnel). */
export const TUNNEL_STATES = ['connecting', 'up', 'down'] as const;
export type TunnelState = (typeof TUNNEL_STATES)[number];
