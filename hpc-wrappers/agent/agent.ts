// `hpc-wrap agent` (hidden; docs/contracts.md §8): the long-lived process the bridge keeps
// on the login node, so that a submit or a status tick costs a line on a pipe instead of a
// Node start. It reads request frames on stdin, runs each at once (concurrently) through
// the same table as the one-shot commands (bridge-ops.ts) with a fresh context per request,
// answers with the document the command would print, and pushes an event frame when a
// watched run dir changes. It ends when its stdin ends (the bridge went away).
import { AGENT_PROTOCOL, MAX_FRAME_BYTES, requestFrameSchema, watchRequestSchema, type EventFrame } from '../../contract/agent.js';
import { describeIssues } from '../../contract/startjob.js';
import { BRIDGE_OPS, stdinFromText, type BridgeOpName } from '../bridge-ops.js';
import { failureDocument, loadContext, resolveConfigPath } from '../command-context.js';
import { loadHpcWrapConfig } from '../../config/load-hpc-wrap.js';
import { Layout } from '../layout.js';
import { WrapError } from '../errors.js';
import { RunDirWatch } from './run-dir-watch.js';

export interface AgentOptions {
  configFlag: string | undefined;
  version: string;
  input: NodeJS.ReadableStream;
  /** Writes one frame line (the real stdout). */
  write(line: string): void;
  /** The run-dir scan's period (the safety net behind fs.watch). */
  scanMs?: number;
}

export async function serveAgent(opts: AgentOptions): Promise<number> {
  const send = (frame: object) => opts.write(`${JSON.stringify(frame)}\n`);
  send({ type: 'hello', agent: 'hpc-wrap', version: opts.version, protocol: AGENT_PROTOCOL, pid: process.pid });
  const state: { watch: RunDirWatch | null } = { watch: null };
  const inFlight = new Set<Promise<void>>();

  const handle = async (line: string): Promise<void> => {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      process.stderr.write('hpc-wrap agent: a frame is not JSON; ignored\n');
      return;
    }
    const req = requestFrameSchema.safeParse(raw);
    if (!req.success) {
      const id = typeof (raw as { id?: unknown })?.id === 'number' ? (raw as { id: number }).id : null;
      const f = failureDocument('agent', new WrapError('invalid', `the agent request is not valid: ${describeIssues(req.error.issues)}`), null);
      if (id !== null) send({ type: 'response', id, exitCode: f.exitCode, output: f.document });
      else process.stderr.write(`hpc-wrap agent: ${f.message}\n`);
      return;
    }
    const { id, op, args, stdin } = req.data;
    if (op === 'watch') {
      try {
        const w = watchRequestSchema.safeParse(JSON.parse(stdin));
        if (!w.success) throw new WrapError('invalid', `the watch request is not valid: ${describeIssues(w.error.issues)}`);
        state.watch ??= makeWatch(opts, send);
        send({ type: 'response', id, exitCode: 0, output: { watching: state.watch.set(w.data.sessions) } });
      } catch (err) {
        const f = failureDocument('agent watch', err instanceof SyntaxError ? new WrapError('invalid', 'the watch request is not JSON') : err, null);
        send({ type: 'response', id, exitCode: f.exitCode, output: f.document });
      }
      return;
    }
    let ctx = null;
    try {
      ctx = loadContext(op, opts.configFlag);
      const output = await BRIDGE_OPS[op as BridgeOpName](ctx, { args, stdin: stdinFromText(stdin) });
      send({ type: 'response', id, exitCode: 0, output });
    } catch (err) {
      const f = failureDocument(op, err, ctx?.log ?? null);
      send({ type: 'response', id, exitCode: f.exitCode, output: f.document });
    }
  };

  const run = (line: string) => {
    if (!line.trim()) return;
    const p = handle(line).catch((err: unknown) => {
      process.stderr.write(`hpc-wrap agent: ${(err as Error).message}\n`);
    });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  let pending = '';
  let tooLong = false;
  opts.input.setEncoding('utf8');
  for await (const chunk of opts.input) {
    let text = typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
      const line = pending + text.slice(0, nl);
      text = text.slice(nl + 1);
      pending = '';
      if (tooLong) tooLong = false;
      else run(line);
    }
    pending += text;
    if (pending.length > MAX_FRAME_BYTES) {
      process.stderr.write(`hpc-wrap agent: a frame is longer than ${MAX_FRAME_BYTES} bytes; ignored\n`);
      pending = '';
      tooLong = true;
    }
  }
  if (pending.trim() && !tooLong) run(pending);
  while (inFlight.size) await Promise.all([...inFlight]);
  state.watch?.close();
  return 0;
}

function makeWatch(opts: AgentOptions, send: (frame: EventFrame) => void): RunDirWatch {
  const layout = new Layout(loadHpcWrapConfig(resolveConfigPath(opts.configFlag)));
  return new RunDirWatch({
    runDirOf: (user, sessionId) => {
      try {
        return layout.session(user, sessionId).runDir;
      } catch {
        return null;
      }
    },
    emit: send,
    scanMs: opts.scanMs ?? 2000,
  });
}
