// Who may call the registration API, and how often: the registration.allowFrom ranges
// (net.BlockList) and a per-address window of maxPerMinutePerAddress calls. The route
// secret is the proof of a registration; these only keep the API from being hammered.
import { BlockList, isIPv6 } from 'node:net';

export class AddressRanges {
  private readonly list = new BlockList();

  constructor(cidrs: readonly string[]) {
    for (const c of cidrs) {
      const [addr, bits] = c.split('/') as [string, string];
      this.list.addSubnet(addr, Number(bits), isIPv6(addr) ? 'ipv6' : 'ipv4');
    }
  }

  allows(address: string): boolean {
    if (!address) return false;
    return this.list.check(address, isIPv6(address) ? 'ipv6' : 'ipv4');
  }
}

export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts a call from `key`; false when it is over the limit for the current minute. */
  take(key: string): boolean {
    const t = this.now();
    let w = this.windows.get(key);
    if (!w || t - w.start >= 60_000) {
      w = { start: t, count: 0 };
      this.windows.set(key, w);
      if (this.windows.size > 10_000) for (const [k, v] of this.windows) if (t - v.start >= 60_000) this.windows.delete(k);
    }
    w.count++;
    return w.count <= this.perMinute;
  }
}
