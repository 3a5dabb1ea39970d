import { defineConfig } from 'vitest/config';

// Two projects: `unit` (fast, no daemons; what `npm test` runs) and `system`
// (real Slurm, sshd, JupyterHub started by test/system/harness; run as root by .ci/run).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
          // fails the run when a test left a process running (test/support/leftover-processes.ts)
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'system',
          include: ['test/system/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          // system suites share one Slurm/JupyterHub per file and run one file at a time
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
