// The `listen` block every listener of hub-bridge.yaml has (the API, the hub service, the
// gateway, the tunnel endpoints): an address and a TCP port, each with its own default and
// description, no other keys.
import { z } from 'zod';

/** A TCP port; `min: 1` where "any free port" (0) makes no sense (an address jobs are given). */
export const tcpPort = (min: 0 | 1 = 0) => z.number().int().min(min).max(65535);

export function listenSchema(o: { host: string; hostWhat: string; port: number; portWhat: string; what: string; portMin?: 0 | 1 }) {
  return z
    .object({
      host: z.string().min(1).default(o.host).describe(o.hostWhat),
      port: tcpPort(o.portMin).default(o.port).describe(o.portWhat),
    })
    .strict()
    .prefault({})
    .describe(o.what);
}
