// Running the commands the bridge calls, shared by the fast path (cli.ts) and the full
// command line (cli-commands.ts): one operation once, or the long-lived agent.
import { BRIDGE_OPS, type BridgeOpName } from './bridge-ops.js';
import { runCommand } from './command-context.js';
import { readBounded } from './startjob/stdin.js';

/** A command the bridge calls, run once from the command line (the agent runs the same table). */
export function runOp(name: BridgeOpName, configFlag: string | undefined, args: string[]): Promise<void> {
  return runCommand(name, configFlag, async (ctx) => {
    const output = await BRIDGE_OPS[name](ctx, { args, stdin: (limit) => readBounded(process.stdin, limit) });
    if (name !== 'doctor') return { output };
    // run by a person (or by hpc-bridge doctor through the transport): each problem on stderr, exit 1
    const { selfCheckProblems } = await import('./self-check.js');
    const problems = selfCheckProblems(output as Awaited<ReturnType<(typeof BRIDGE_OPS)['doctor']>>);
    for (const p of problems) process.stderr.write(`hpc-wrap doctor: ${p}\n`);
    return { output, exitCode: problems.length ? 1 : 0 };
  });
}

/** `hpc-wrap agent`: the frames own stdout; anything a module would print goes to stderr. */
export async function runAgent(configFlag: string | undefined, version: string): Promise<void> {
  const { serveAgent } = await import('./agent/agent.js');
  const out = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  process.exitCode = await serveAgent({ configFlag, version, input: process.stdin, write: (line) => void out(line) });
}
