// The frames of `hpc-wrap agent` (docs/contracts.md §8): the long-lived cluster-side
// process the bridge keeps per transport, so that no status tick or submit starts Node.
// One JSON object per line (newline-delimited, UTF-8) in both directions. A request
// carries exactly what the one-shot command would get (its arguments and its stdin), and
// the response exactly what it would print (its JSON document, error documents included)
// and its exit status: the command documents of §2-§8 stay the only definition.
import { z } from 'zod';
import { validateSessionId, validateUsername, viaName } from './names.js';

/** Bumped when a frame changes incompatibly; the bridge also requires the same package version. */
export const AGENT_PROTOCOL = 1;
/** The largest frame either side accepts (a startjob request is at most 1 MiB; a jobstate of 100,000 jobs more). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** The one-shot commands the agent serves, by their CLI names, plus `watch` (agent only). */
export const AGENT_OPS = ['startjob', 'jobstate', 'killjob', 'marked-jobs', 'capabilities', 'partitions', 'accounting', 'doctor', 'watch'] as const;
export type AgentOp = (typeof AGENT_OPS)[number];

/** First line the agent writes: who it is. The bridge refuses an agent of another version. */
export const helloFrameSchema = z.object({
  type: z.literal('hello'),
  agent: z.literal('hpc-wrap'),
  version: z.string(),
  protocol: z.number().int(),
  pid: z.number().int(),
});
export type HelloFrame = z.infer<typeof helloFrameSchema>;

/** bridge → agent. `id` is the bridge's; responses may come back in any order. */
export const requestFrameSchema = z
  .object({
    type: z.literal('request'),
    id: z.number().int().nonnegative(),
    op: z.enum(AGENT_OPS),
    /** The command's positional arguments (job ids), as on the command line. */
    args: z.array(z.string().max(1024)).max(100_000).default([]),
    /** What the one-shot command would read on stdin ("" = nothing). */
    stdin: z.string().default(''),
  })
  .strict();
export type RequestFrame = z.input<typeof requestFrameSchema>;

/** agent → bridge: the command's JSON document (or error document) and its exit status. */
export const responseFrameSchema = z.object({
  type: z.literal('response'),
  id: z.number().int(),
  exitCode: z.number().int(),
  output: z.unknown(),
});
export type ResponseFrame = z.infer<typeof responseFrameSchema>;

/** `watch` stdin: the sessions whose run dirs the agent watches (replaces the previous set). */
export const watchRequestSchema = z
  .object({
    version: z.literal(1),
    sessions: z
      .array(z.object({ sessionId: z.string().transform(viaName(validateSessionId)), user: z.string().max(1024).transform(viaName(validateUsername)) }).strict())
      .max(100_000),
  })
  .strict();
export type WatchRequest = z.infer<typeof watchRequestSchema>;

/**
 * agent → bridge, unsolicited: a watched run dir changed what it says. `phase` is
 * start-env's phase in status.json (null: none yet), `exited` that exit.json exists. The
 * bridge then asks jobstate at once; the frame itself decides nothing.
 */
export const eventFrameSchema = z.object({
  type: z.literal('event'),
  event: z.literal('session'),
  sessionId: z.string(),
  phase: z.enum(['environment', 'starting', 'listening', 'exited']).nullable(),
  exited: z.boolean(),
});
export type EventFrame = z.infer<typeof eventFrameSchema>;

export const agentFrameSchema = z.discriminatedUnion('type', [helloFrameSchema, responseFrameSchema, eventFrameSchema]);
export type AgentFrame = z.infer<typeof agentFrameSchema>;
