// Parts of hub-bridge.yaml about what students see: the check of profiles against the
// scheduler's partitions, and the bridge's own JupyterHub service (the "My sessions" page
// from which a student cancels a queued start, and the admin page: docs/admin-page.md).
import { z } from 'zod';
import { listenSchema } from './schema-listen.js';

export const profileCheckSchema = z
  .object({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        "Ask the scheduler which partitions exist (ONE cached `hpc-wrap partitions` call) and mark profiles whose partition is unknown or down as unavailable: the spawn form shows them disabled with the reason (or hides them, HpcBridgeSpawner.unavailable_profiles) and a start of one is refused at once.",
      ),
    cacheSeconds: z.number().min(5).max(86_400).default(300).describe('How long an answer of the scheduler is reused (at most one query per this many seconds).'),
    waitSeconds: z.number().min(0).max(60).default(3).describe('How long GET /v1/profiles waits for a fresh answer; later, it answers without one (every profile available).'),
  })
  .strict()
  .prefault({})
  .describe('Checking profiles against the scheduler.');

export const hubServiceSchema = z
  .object({
    enabled: z
      .boolean()
      .default(false)
      .describe("Serve the bridge's pages for hub users (their sessions; cancel a queued start) as a JupyterHub service on its own listener, with login through the hub (OAuth)."),
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/)
      .default('hpc-bridge')
      .describe('Its name in c.JupyterHub.services: its pages are under <baseUrl>services/<name>/ and its OAuth client is service-<name>.'),
    listen: listenSchema({
      host: '127.0.0.1',
      hostWhat: "Address of the service's listener (the hub's proxy forwards /services/<name>/ to it).",
      port: 8098,
      portWhat: 'Its TCP port (0 = any free port); the same URL goes into the service\'s "url" in jupyterhub_config.py.',
      what: 'Where the service listens.',
    }),
    baseUrl: z
      .string()
      .regex(/^\/([A-Za-z0-9._~-]+\/)*$/, 'a path that starts and ends with /')
      .default('/')
      .describe("JupyterHub's c.JupyterHub.base_url (the browser's path prefix of the hub)."),
    apiTokenFile: z
      .string()
      .min(1)
      .default('.state/hub-service-token')
      .describe("File (0600) holding the service's api_token, also its OAuth client secret; created with a random token when missing. jupyterhub_config.py reads the same file."),
    adminScope: z
      .string()
      .regex(/^custom:[a-z0-9][a-z0-9_:-]{0,118}[a-z0-9_]$/, 'a JupyterHub custom scope (lower case: custom:[a-z0-9_:-]), e.g. custom:hpc-bridge:admin')
      .nullable()
      .default('custom:hpc-bridge:admin')
      .describe(
        "Besides JupyterHub admins, users whose login carries this custom scope may use the admin page (<prefix>admin/): define it in c.JupyterHub.custom_scopes, grant it with a role, and list it in the service's oauth_client_allowed_scopes (docs/admin-page.md). null: JupyterHub admins only.",
      ),
    sessionHours: z.number().min(0.1).max(720).default(8).describe('A login to the service lasts this long (it also ends when the hub revokes its token).'),
  })
  .strict()
  .prefault({})
  .describe("The bridge's JupyterHub service (students' sessions page, the admin page).");

export type ProfileCheckConfig = z.infer<typeof profileCheckSchema>;
export type HubServiceConfig = z.infer<typeof hubServiceSchema>;
