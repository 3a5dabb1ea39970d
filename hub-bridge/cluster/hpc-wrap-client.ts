// The bridge's only way to the cluster: run `hpc-wrap startjob | jobstate | killjob`
// through the transport and read their JSON (docs/contracts.md §2-4).
import { z } from 'zod';
import { TransportError, type Transport } from '../transport/types.js';
import type { TunnelDocument } from '../tunnel/tunnel-registry.js';

const jobStateSchema = z.enum(['pending', 'running', 'completing', 'done', 'failed', 'cancelled', 'unknown']);

const jobStatusSchema = z.object({
  state: jobStateSchema,
  node: z.string().nullable().optional(),
  reason: z.string().nullable().optional(),
  position: z.number().nullable().optional(),
  estimatedStart: z.string().nullable().optional(),
  exitCode: z.number().nullable().optional(),
  server: z
    .object({
      phase: z.string(),
      host: z.string().nullable().optional(),
      port: z.number().nullable().optional(),
      message: z.string().nullable().optional(),
      tunnel: z.string().nullable().optional(),
    })
    .nullable()
    .optional(),
  outputTail: z.string().nullable().optional(),
});
export type JobStatus = z.infer<typeof jobStatusSchema>;

const jobStateOutput = z.object({
  scheduler: z.object({ name: z.string(), reachable: z.boolean(), error: z.string().nullable().optional() }),
  jobs: z.record(z.string(), jobStatusSchema),
});
export type JobStateReport = z.infer<typeof jobStateOutput>;

const errorOutput = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

/** hpc-wrap ran and refused (invalid input, maintenance, scheduler said no): not transient. */
export class HpcWrapRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HpcWrapRefusal';
  }
}

export interface StartJobDocument {
  version: 1;
  sessionId: string;
  user: string;
  serverName: string;
  env: Record<string, string>;
  command: string[];
  resources: Record<string, unknown> | null;
  script: string | null;
  /** Name of a software environment in hpc-wrap.yaml; null = its default. */
  environment: string | null;
  /** WebDAV credentials from the spawn (SECRET: spool secrets file only). */
  webdav: { url?: string; username: string; password: string } | null;
  /** The notebook tunnel; privateKey is SECRET (spool secrets file only). */
  tunnel: TunnelDocument | null;
}

function parseJson(stdout: string): unknown {
  const text = stdout.trim();
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export class HpcWrapClient {
  constructor(
    private readonly transport: Transport,
    private readonly hpcWrap: readonly string[],
    private readonly timeoutMs: number,
  ) {}

  get description(): string {
    return `${this.hpcWrap.join(' ')} via ${this.transport.description}`;
  }

  /** `asUser`: the hub user the command acts for (the ssh transport's identity "sudo" runs it as them). */
  private async call(args: string[], stdin?: string, asUser?: string): Promise<unknown> {
    const r = await this.transport.run([...this.hpcWrap, ...args], { stdin, timeoutMs: this.timeoutMs, ...(asUser ? { asUser } : {}) });
    const out = parseJson(r.stdout);
    const err = errorOutput.safeParse(out);
    if (err.success) {
      if (err.data.error.code === 'internal') throw new TransportError(`hpc-wrap ${args[0]}: ${err.data.error.message}`);
      throw new HpcWrapRefusal(err.data.error.code, err.data.error.message);
    }
    if (r.exitCode !== 0 || out === undefined) {
      const detail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-5).join('\n');
      throw new TransportError(`hpc-wrap ${args[0]} failed (exit ${r.exitCode}): ${detail || 'no output'}`);
    }
    return out;
  }

  async startJob(doc: StartJobDocument): Promise<{ jobId: string }> {
    const out = await this.call(['startjob'], JSON.stringify(doc), doc.user);
    const parsed = z.object({ jobId: z.string().min(1) }).safeParse(out);
    if (!parsed.success) throw new TransportError(`hpc-wrap startjob printed no job id`);
    return parsed.data;
  }

  async jobState(ids: string[]): Promise<JobStateReport> {
    const out = await this.call(['jobstate', ...ids]);
    const parsed = jobStateOutput.safeParse(out);
    if (!parsed.success) throw new TransportError(`hpc-wrap jobstate printed unexpected output: ${parsed.error.message}`);
    return parsed.data;
  }

  /** `hpc-wrap doctor`: the cluster side's own health report. */
  async doctor(): Promise<unknown> {
    return this.call(['doctor']);
  }

  async killJob(id: string, asUser?: string): Promise<void> {
    await this.call(['killjob', id], undefined, asUser);
  }
}
