// `hpc-wrap capabilities`: what this cluster side accepts, so that the bridge refuses at
// its API (400) a request the cluster would refuse anyway (docs/contracts.md §2): WebDAV
// credentials while WebDAV is off, an environment the cluster does not define.
import { z } from 'zod';

export const capabilitiesSchema = z.object({
  version: z.string(),
  scheduler: z.string(),
  identity: z.enum(['shared', 'per-user']),
  webdav: z.object({ enabled: z.boolean(), clientUrl: z.boolean() }),
  environments: z.array(z.string()),
  defaultEnvironment: z.string().nullable(),
});
export type Capabilities = z.infer<typeof capabilitiesSchema>;

/** Why the cluster would refuse this request, or null. Messages name the field and the fix. */
export function refusalByCapabilities(
  caps: Capabilities,
  req: { webdav: { url?: string } | null; environment: string | null },
): string | null {
  if (req.webdav && !caps.webdav.enabled) {
    return 'webdav: this cluster mounts no WebDAV shares (webdav.enabled is false in hpc-wrap.yaml); send no WebDAV credentials';
  }
  if (req.webdav?.url && !caps.webdav.clientUrl) {
    return 'webdav.url: this cluster takes no WebDAV URL from the spawn (webdav.allowedUrlPrefixes is empty in hpc-wrap.yaml)';
  }
  if (req.environment !== null && !caps.environments.includes(req.environment)) {
    return `environment: "${req.environment}" is not an environment of this cluster; known: ${caps.environments.join(', ') || 'none defined'} (the profile's environment in hub-bridge.yaml must name one of hpc-wrap.yaml's environments)`;
  }
  return null;
}
