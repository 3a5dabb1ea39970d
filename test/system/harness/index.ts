// Test harness: a local dev cluster (munge + Slurm, JupyterHub) for system tests.
export * from './ports.js';
export * from './proc.js';
export * from './accounts.js';
export * from './munge.js';
export * from './slurm-conf.js';
export * from './slurm.js';
export * from './slurmdbd.js';
export * from './gridengine-conf.js';
export * from './gridengine.js';
export * from './pbs-commands.js';
export * from './hub-config.js';
export * from './jupyterhub.js';
export * from './sshd.js';
export * from './cmdline-sampler.js';
