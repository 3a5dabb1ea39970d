// What admins watch, built from hub-bridge.yaml next to the core: the Prometheus metrics
// (hooked into the session service and the status poller; GET /metrics on the API
// listener or a listener of its own) and the scheduler accounting poller.
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { HubBridgeConfig } from '../config/schema.js';
import { AccountingPoller } from './accounting/accounting-poller.js';
import { AccountingStore } from './accounting/accounting-store.js';
import { readOrCreateToken } from './api/token-file.js';
import type { HpcWrapClient } from './cluster/hpc-wrap-client.js';
import { BridgeMetrics } from './metrics/bridge-metrics.js';
import { startMetricsListener, type MetricsEndpoint } from './metrics/metrics-http.js';
import type { SessionService } from './sessions/session-service.js';
import type { StatusPoller } from './sessions/status-poller.js';
import type { SessionStore } from './store/session-store.js';

export interface AdminWatch {
  metrics: BridgeMetrics | null;
  /** What the API app serves /metrics with (null: metrics off). */
  endpoint: MetricsEndpoint | null;
  /** The separate metrics listener's URL, when metrics.listen.port is set. */
  metricsUrl: string | null;
  accounting: AccountingStore;
  accountingPoller: AccountingPoller;
  start(): void;
  close(): Promise<void>;
}

export async function startAdminWatch(
  config: HubBridgeConfig,
  core: { store: SessionStore; service: SessionService; poller: StatusPoller; cluster: HpcWrapClient; log: Logger },
): Promise<AdminWatch> {
  const { store, service, poller, cluster, log } = core;
  const accounting = new AccountingStore(store.database);
  let metrics: BridgeMetrics | null = null;
  let endpoint: MetricsEndpoint | null = null;
  let listener: { server: Server; url: string } | null = null;
  if (config.metrics.enabled) {
    const { token, created } = readOrCreateToken(config.metrics.tokenFile);
    if (created) log.info({ file: config.metrics.tokenFile }, 'created a new metrics token file');
    metrics = new BridgeMetrics({ store, profiles: config.profiles.map((p) => p.name) });
    service.observers.add(metrics.sessions);
    poller.observers.add(metrics.poller);
    const l = config.metrics.listen;
    if (l.port !== null) listener = await startMetricsListener(metrics, token, l.host, l.port);
    endpoint = { metrics, token, servedHere: listener === null, ...(listener ? { elsewhere: listener.url } : {}) };
  }
  const accountingPoller = new AccountingPoller(accounting, cluster, config, log, metrics);
  service.observers.add(accountingPoller.requests);
  return {
    metrics,
    endpoint,
    metricsUrl: listener?.url ?? null,
    accounting,
    accountingPoller,
    start: () => accountingPoller.start(),
    async close() {
      await accountingPoller.stop();
      if (listener) {
        const s = listener.server;
        await new Promise<void>((r) => {
          s.close(() => r());
          s.closeAllConnections();
        });
      }
    },
  };
}
