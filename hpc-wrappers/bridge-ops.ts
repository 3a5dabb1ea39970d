// The commands the bridge calls, as one table from (context, arguments, stdin) to the JSON
// document they print. The one-shot CLI (cli.ts) and the long-lived agent (agent/) both
// run them from here, so the two paths cannot drift apart.
import { MAX_REQUEST_BYTES } from '../contract/startjob.js';
import { accounting } from './accounting.js';
import { capabilities } from './capabilities.js';
import type { CommandContext } from './command-context.js';
import { jobState, parseJobStateRequest, refsForIds, refsForRequest } from './jobstate.js';
import { killJob, killJobById, parseKillJobRequest } from './killjob.js';
import { markedJobs } from './marked-jobs.js';
import { listPartitions } from './partitions.js';
import { selfCheck } from './self-check.js';
import { startJob } from './startjob/startjob.js';
import { WrapError } from './errors.js';

export interface OpInput {
  /** Positional arguments, as on the command line. */
  args: readonly string[];
  /** The command's stdin, read only by the operations that need it. */
  stdin: (limit: number) => Promise<string>;
}

export type BridgeOp = (ctx: CommandContext, input: OpInput) => Promise<unknown>;

export const BRIDGE_OPS = {
  startjob: async (ctx, i) => startJob(ctx, await i.stdin(MAX_REQUEST_BYTES)),
  jobstate: async (ctx, i) =>
    jobState(ctx, i.args.length ? refsForIds(ctx, i.args) : refsForRequest(ctx, parseJobStateRequest(await i.stdin(MAX_REQUEST_BYTES * 16)))),
  killjob: async (ctx, i) => (i.args.length ? killJobById(ctx, i.args[0]!) : killJob(ctx, parseKillJobRequest(await i.stdin(MAX_REQUEST_BYTES)))),
  'marked-jobs': async (ctx) => markedJobs(ctx),
  capabilities: async (ctx) => capabilities(ctx),
  partitions: async (ctx) => listPartitions(ctx),
  accounting: async (ctx, i) => accounting(ctx, [...i.args]),
  doctor: async (ctx) => selfCheck(ctx),
} satisfies Record<string, BridgeOp>;

export type BridgeOpName = keyof typeof BRIDGE_OPS;

/** A string as stdin: what the agent hands the operations (bounded like the real stdin). */
export function stdinFromText(text: string): (limit: number) => Promise<string> {
  return async (limit) => {
    if (Buffer.byteLength(text) > limit) throw new WrapError('invalid', `the request on stdin is larger than ${limit} bytes`);
    return text;
  };
}
