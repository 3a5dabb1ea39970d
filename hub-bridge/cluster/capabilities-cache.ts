// The cluster side's capabilities (contract/capabilities.ts), asked once at start and again
// every few minutes in the background, never on a request's path. While unknown (the
// cluster cannot be reached) requests are not refused on its account: hpc-wrap checks again.
import type { Logger } from 'pino';
import type { Capabilities } from '../../contract/capabilities.js';
import type { HpcWrapClient } from './hpc-wrap-client.js';

export class CapabilitiesCache {
  private value: Capabilities | null = null;
  private fetchedAt = 0;
  private pending: Promise<void> | null = null;

  constructor(
    private readonly cluster: HpcWrapClient,
    private readonly log: Logger,
    private readonly maxAgeMs = 300_000,
  ) {}

  /** The last known capabilities (refreshing in the background when old), or null. */
  current(): Capabilities | null {
    if (Date.now() - this.fetchedAt > this.maxAgeMs) void this.refresh();
    return this.value;
  }

  refresh(): Promise<void> {
    this.pending ??= this.cluster
      .capabilities()
      .then((c) => {
        this.value = c;
        this.fetchedAt = Date.now();
      })
      .catch((err) => {
        this.fetchedAt = Date.now() - this.maxAgeMs + 30_000; // try again in 30 s
        this.log.warn({ err: (err as Error).message }, 'could not read the cluster capabilities; requests are checked by hpc-wrap only');
      })
      .finally(() => (this.pending = null));
    return this.pending;
  }
}
