// hub-bridge.yaml: what admins watch — the Prometheus endpoint and the scheduler accounting
// the bridge collects (implemented in hub-bridge/metrics and hub-bridge/accounting).
import { z } from 'zod';
import { tcpPort } from './schema-listen.js';

const port = tcpPort();

export const metricsSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Serve GET /metrics (Prometheus text format).'),
    tokenFile: z
      .string()
      .min(1)
      .default('.state/metrics-token')
      .describe(
        'File holding the bearer token Prometheus must send for GET /metrics (mode 0600; created with a random token when missing). ' +
          'A token of its own, so that the scraper cannot use the /v1 API. In prometheus.yml: authorization: {credentials_file: <copy of this file>}.',
      ),
    listen: z
      .object({
        host: z.string().min(1).default('127.0.0.1').describe('Address of the separate metrics listener.'),
        port: port
          .nullable()
          .default(null)
          .describe('TCP port of a separate listener that serves only GET /metrics (still with the token; 0 = any free port); null = the API listener serves it.'),
      })
      .strict()
      .prefault({})
      .describe('Where GET /metrics is served.'),
  })
  .strict()
  .prefault({})
  .describe('The Prometheus endpoint (docs/metrics.md). Labels are bounded: state, profile, cause, route; never a user name.');

export const accountingSchema = z
  .object({
    enabled: z
      .boolean()
      .default(true)
      .describe("Ask the scheduler's accounting (Slurm: sacct, which needs slurmdbd) for the jobs that ended and keep it in the jobs table."),
    intervalSeconds: z.number().min(1).max(86_400).default(300).describe('Seconds between accounting calls (ONE `hpc-wrap accounting` call for all jobs that ended since).'),
    batchSize: z.number().int().min(1).max(5000).default(500).describe('Most job ids in one accounting call.'),
    giveUpAfterHours: z
      .number()
      .min(0.01)
      .max(24 * 365)
      .default(48)
      .describe('A job the scheduler still has no record of this long after it ended is no longer asked for (usage then reports what the bridge saw).'),
  })
  .strict()
  .prefault({})
  .describe('Usage accounting from the scheduler (hpc-bridge usage, GET /v1/usage).');
