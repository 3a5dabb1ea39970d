// Starts the bridge's JupyterHub service on its own listener (hubService in
// hub-bridge.yaml): the hub's proxy forwards <baseUrl>services/<name>/ here. Its api_token
// (the OAuth client secret) lives in a 0600 file that jupyterhub_config.py reads too.
import { hostUrl } from '../../contract/url.js';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { HubBridgeConfig } from '../../config/schema.js';
import type { AccountingStore } from '../accounting/accounting-store.js';
import { readOrCreateToken } from '../api/token-file.js';
import type { SessionService } from '../sessions/session-service.js';
import type { SessionStore } from '../store/session-store.js';
import { HubOAuth } from './hub-oauth.js';
import { LoginSessions } from './login-sessions.js';
import { createHubServiceApp } from './service-app.js';

export interface HubService {
  server: Server;
  /** Where it listens (the service's "url" in jupyterhub_config.py). */
  url: string;
  /** The browser path of its pages, e.g. /services/hpc-bridge/ */
  prefix: string;
  close(): Promise<void>;
}

export async function startHubService(config: HubBridgeConfig, deps: { store: SessionStore; service: SessionService; log: Logger; accounting?: AccountingStore | null }): Promise<HubService> {
  const c = config.hubService;
  const { token, created } = readOrCreateToken(c.apiTokenFile);
  if (created) deps.log.info({ file: c.apiTokenFile }, "created the hub service's api_token file; jupyterhub_config.py must read the same file");
  const oauth = new HubOAuth({ hubApiUrl: config.hubApiUrl, baseUrl: c.baseUrl, serviceName: c.name, clientSecret: () => token });
  const app = createHubServiceApp({ ...deps, oauth, logins: new LoginSessions(c.sessionHours * 3600_000), baseUrl: c.baseUrl, adminScope: c.adminScope });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(c.listen.port, c.listen.host, () => resolve(s));
    s.once('error', reject);
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : c.listen.port;
  const url = hostUrl('http', c.listen.host, port);
  deps.log.info({ url, prefix: oauth.prefix }, 'hub service listening');
  return {
    server,
    url,
    prefix: oauth.prefix,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
