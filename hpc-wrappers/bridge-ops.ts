// The commands the bridge calls, as one table from (context, arguments, stdin) to the JSON
// document they print. The one-shot CLI (cli.ts) and the long-lived agent (agent/) both
// run them from here, so the two paths cannot drift apart.
import { MAX_REQUEST_BYTES } from '../contract/startjob.js';
import type { CommandContext } from './command-context.js';
import { WrapError } from './errors.js';

// Each operation loads its module when it runs: a one-shot command evaluates only its own code.
export interface OpInput {
  /** Positional arguments, as on the command line. */
  args: readonly string[];
  /** The command's stdin, read only by the operations that need it. */
  stdin: (limit: number) => Promise<string>;
}

export type BridgeOp = (ctx: CommandContext, input: OpInput) => Promise<unknown>;

export const BRIDGE_OPS = {
  startjob: async (ctx, i) => (await import('./startjob/startjob.js')).startJob(ctx, await i.stdin(MAX_REQUEST_BYTES)),
  jobstate: async (ctx, i) => {
    const { jobState, parseJobStateRequest, refsForIds, refsForRequest } = await import('./jobstate.js');
    return jobState(ctx, i.args.length ? refsForIds(ctx, i.args) : refsForRequest(ctx, parseJobStateRequest(await i.stdin(MAX_REQUEST_BYTES * 16))));
  },
  killjob: async (ctx, i) => {
    const { killJob, killJobById, parseKillJobRequest } = await import('./killjob.js');
    return i.args.length ? killJobById(ctx, i.args[0]!) : killJob(ctx, parseKillJobRequest(await i.stdin(MAX_REQUEST_BYTES)));
  },
  'marked-jobs': async (ctx) => (await import('./marked-jobs.js')).markedJobs(ctx),
  capabilities: async (ctx) => (await import('./capabilities.js')).capabilities(ctx),
  partitions: async (ctx) => (await import('./partitions.js')).listPartitions(ctx),
  accounting: async (ctx, i) => (await import('./accounting.js')).accounting(ctx, [...i.args]),
  doctor: async (ctx) => (await import('./self-check.js')).selfCheck(ctx),
} satisfies Record<string, BridgeOp>;

export type BridgeOpName = keyof typeof BRIDGE_OPS;

/** A string as stdin: what the agent hands the operations (bounded like the real stdin). */
export function stdinFromText(text: string): (limit: number) => Promise<string> {
  return async (limit) => {
    if (Buffer.byteLength(text) > limit) throw new WrapError('invalid', `the request on stdin is larger than ${limit} bytes`);
    return text;
  };
}
