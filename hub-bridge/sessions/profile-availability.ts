// Which profiles can run: a profile whose partition the scheduler does not list (or lists
// as down) is marked unavailable with a reason a student understands. ONE cached
// `hpc-wrap partitions` call per cacheSeconds at most, one at a time, never on the path of a
// start: a start only reads the cached answer. An answer that cannot be had (scheduler or
// login node unreachable, an older hpc-wrap) marks nothing: the scheduler still decides.
import type { Logger } from 'pino';
import type { Profile } from '../../config/schema.js';
import type { ProfileCheckConfig } from '../../config/schema-hub-service.js';
import type { PartitionsReport } from '../cluster/hpc-wrap-client.js';
import { partitionUnavailable, profileUnavailableMessage } from './refusal-messages.js';

export interface Availability {
  available: boolean;
  /** Why not, in a student's words; null when available. */
  reason: string | null;
}

interface Cached {
  at: number;
  report: PartitionsReport | null;
}

/** Failed queries are retried after this long (not cacheSeconds: the check should recover soon). */
const FAILURE_RETRY_MS = 30_000;

export class ProfileAvailability {
  private cached: Cached | null = null;
  private inFlight: Promise<void> | null = null;
  /** Queries made (tests and metrics read it). */
  queries = 0;

  constructor(
    private readonly list: () => Promise<PartitionsReport>,
    private readonly profiles: readonly Profile[],
    private readonly defaultProfile: string | null,
    private readonly cfg: ProfileCheckConfig,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The availability of every profile, refreshing the cache if stale (waits at most waitSeconds). */
  async check(): Promise<Map<string, Availability>> {
    const profiles = this.profiles;
    if (this.cfg.enabled && this.stale()) {
      const refresh = this.refresh();
      await Promise.race([refresh, new Promise((r) => setTimeout(r, this.cfg.waitSeconds * 1000).unref?.())]);
    }
    return new Map(profiles.map((p) => [p.name, this.of(p)]));
  }

  /**
   * From the cache only (never queries): why a start of this profile (a name from a request;
   * empty = the default) must be refused at once, as a student message; null = go ahead.
   */
  refusal(requested: unknown): string | null {
    if (!this.cfg.enabled) return null;
    const name = requested === undefined || requested === null || requested === '' ? (this.defaultProfile ?? this.profiles[0]?.name) : requested;
    const p = this.profiles.find((x) => x.name === name);
    const reason = p ? this.of(p).reason : null;
    return p && reason ? profileUnavailableMessage(p.displayName, reason) : null;
  }

  private stale(): boolean {
    if (!this.cached) return true;
    const ttl = this.cached.report ? this.cfg.cacheSeconds * 1000 : Math.min(FAILURE_RETRY_MS, this.cfg.cacheSeconds * 1000);
    return this.now() - this.cached.at >= ttl;
  }

  private refresh(): Promise<void> {
    this.inFlight ??= (async () => {
      this.queries++;
      try {
        this.cached = { at: this.now(), report: await this.list() };
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'partition check unavailable; every profile is offered');
        this.cached = { at: this.now(), report: null };
      } finally {
        this.inFlight = null;
      }
    })();
    return this.inFlight;
  }

  private of(p: Profile): Availability {
    const parts = this.cached?.report?.partitions;
    const wanted = p.resources.partition;
    if (!parts || !wanted) return { available: true, reason: null };
    // A Slurm partition list ("a,b"): the job may run in any of them.
    const names = wanted.split(',').filter(Boolean);
    const listed = parts.filter((x) => names.includes(x.name));
    if (listed.some((x) => x.available)) return { available: true, reason: null };
    return { available: false, reason: partitionUnavailable(wanted, listed[0]?.state ?? null) };
  }
}
