// The `tunnel` part of the startjob document (docs/contracts.md §2) and of job.json: how
// the job's tunnel agent reaches the hub host. Not secret; the private key travels next
// to it in the request (`tunnel.privateKey`) but is split off into the spool's 0600
// secrets file by startjob and never written to job.json.
import { z } from 'zod';

const port = z.number().int().min(1).max(65535);
const noControl = (s: string) => !/[\0\r\n]/.test(s);

export const tunnelSpecSchema = z
  .object({
    host: z
      .string()
      .regex(/^(?!-)[A-Za-z0-9.-]{1,253}$|^[0-9A-Fa-f:]{2,39}$/, 'a host name or IP address')
      .describe("The hub host's SSH server as the compute nodes reach it."),
    port: port.describe("Port of the hub host's SSH server."),
    user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a POSIX account name').describe('The tunnel account.'),
    hostKeys: z
      .array(z.string().min(1).max(16 * 1024).refine(noControl, 'a known_hosts line must be one line'))
      .min(1, 'at least one host key of the hub')
      .max(32)
      .describe('known_hosts lines of the hub host; any other host key is refused.'),
    remotePort: port.describe('Hub-side 127.0.0.1 port the agent listens on (permitlisten); the hub reaches the notebook there.'),
    hubApiPort: port.describe("Hub-side 127.0.0.1 port of JupyterHub's API (permitopen)."),
    keepaliveIntervalSeconds: z.number().min(1).max(600).default(15).describe('SSH keepalive interval of the agent.'),
  })
  .strict();
export type TunnelSpec = z.infer<typeof tunnelSpecSchema>;

const PRIVATE_KEY = /^-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/=:,\- \r\n]+\r?\n-----END [A-Z0-9 ]*PRIVATE KEY-----\s*$/;

/** In the request only: the spec plus the per-job private key (SECRET; messages never show it). */
export const tunnelRequestSchema = tunnelSpecSchema
  .extend({
    privateKey: z
      .string()
      .max(16 * 1024, 'the private key is too long')
      .refine((s) => PRIVATE_KEY.test(s), 'must be an unencrypted private key in PEM/OpenSSH armour (-----BEGIN … PRIVATE KEY-----)'),
  })
  .strict();
export type TunnelRequest = z.infer<typeof tunnelRequestSchema>;

/** Splits the request's tunnel into the public spec (job.json) and the secret key (secrets.json). */
export function splitTunnelRequest(t: TunnelRequest): { spec: TunnelSpec; privateKey: string } {
  const { privateKey, ...spec } = t;
  return { spec, privateKey };
}
