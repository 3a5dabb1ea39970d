// The live routes in memory, found by label in constant time: the label is first turned
// into an HMAC under a key that exists only in this process, so the map lookup is keyed by
// a value nobody outside can aim at; the stored digest is then compared with
// timingSafeEqual, against a dummy when there is no entry, so a hit, a near miss and a
// miss do the same work. Also indexed by the secret's hash (registration, `url --new`,
// `stop`) and counted per owner (maxRoutesPerUser).
import { createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'node:crypto';
import { LABEL_RE } from '../../contract/launch.js';
import { newLiveState, type Route, type RouteRecord } from './route.js';

interface Entry {
  digest: Buffer;
  route: Route;
}

export class RouteTable {
  private readonly key = createSecretKey(randomBytes(32));
  private readonly byDigest = new Map<string, Entry>();
  private readonly bySecret = new Map<string, Route>();
  private readonly dummy: Entry = { digest: randomBytes(32), route: { record: null as unknown as RouteRecord, live: newLiveState() } };

  private digest(label: string): Buffer {
    return createHmac('sha256', this.key).update(label, 'utf8').digest();
  }

  add(record: RouteRecord): Route {
    const route: Route = { record, live: newLiveState() };
    const digest = this.digest(record.label);
    this.byDigest.set(digest.toString('base64'), { digest, route });
    this.bySecret.set(record.secretHash, route);
    return route;
  }

  /** The route of `label`, or null; the same work whether or not it exists. */
  find(label: string): Route | null {
    const wellFormed = LABEL_RE.test(label);
    const digest = this.digest(wellFormed ? label : 'a'.repeat(26));
    const hit = this.byDigest.get(digest.toString('base64'));
    const entry = hit ?? this.dummy;
    const same = timingSafeEqual(digest, entry.digest);
    return wellFormed && hit !== undefined && same ? entry.route : null;
  }

  findBySecretHash(hash: string): Route | null {
    return this.bySecret.get(hash) ?? null;
  }

  has(label: string): boolean {
    return this.find(label) !== null;
  }

  remove(route: Route): void {
    this.byDigest.delete(this.digest(route.record.label).toString('base64'));
    if (this.bySecret.get(route.record.secretHash) === route) this.bySecret.delete(route.record.secretHash);
  }

  all(): Route[] {
    return [...this.byDigest.values()].map((e) => e.route);
  }

  countOwner(owner: string): number {
    let n = 0;
    for (const e of this.byDigest.values()) if (e.route.record.owner === owner && e.route.live.endedAt === null) n++;
    return n;
  }

  get size(): number {
    return this.byDigest.size;
  }
}
