// vitest globalSetup of both projects: marks the run so that every process the tests start
// can be found afterwards, and fails the run when any is still alive at the end (after
// killing it). See leftover-processes.ts.
import { markTestRun, reapLeftovers } from './leftover-processes.js';

export default function setup(): () => Promise<void> {
  const runId = markTestRun();
  return async () => {
    const left = await reapLeftovers(runId);
    if (left.length) {
      throw new Error(
        `the tests left ${left.length} process(es) running (now killed); a test that starts jobs or daemons must stop them:\n` +
          left.map((p) => `  pid ${p.pid}: ${p.cmdline.slice(0, 300)}`).join('\n'),
      );
    }
  };
}
