import { intervalMs, type Bucket, type BucketState, type Decision, type GrantedDecision } from './gcra.js';

/**
 * Leases: a subject that keeps asking takes a few requests ahead from Redis, and this process spends
 * them without a round trip.
 *
 * Why: at a few thousand requests a second the Redis decision was half of the gateway's tail (the
 * gateway alone under paced load) and half of its garbage; with leases the gateway does 1.11–1.22 ×
 * the requests at less CPU each (docs/benchmarks.md, "Gateway"). With a lease, one decision in
 * `size + 1` goes to Redis.
 *
 * What stays exact:
 * - Every request admitted was paid for in Redis first (the lease's requests are taken there, with
 *   the request that asked for them, in one atomic decision). So no fleet of gateways admits more
 *   than the policy, whatever the number of replicas.
 * - The extra requests are granted only when every bucket of the decision can pay for them too;
 *   otherwise the request is decided alone, exactly as without leases. A subject near its limit
 *   therefore gets the same answers as before.
 * - What a lease has left when it runs out of time (`ttlMs`) is given back to Redis, so nothing is
 *   lost either: a subject is never refused because another process holds its requests for longer
 *   than that.
 *
 * What changes, and its bound:
 * - A check-only bucket (the 404 budget) is read when the lease is taken. A 404 spent in this
 *   process ends every lease that checked that budget at once; one spent in another replica is seen
 *   here when the lease next goes to Redis: after at most `size` requests or `ttlMs`.
 * - The RateLimit header's `r` and `t` are computed from Redis's answer when the lease was taken.
 *
 * Who is leased: only decisions whose every spending bucket allows at least MIN_LEASE requests ahead
 * (a `1/limitShare` part of its limit, at most `max`). Login, sign-up, generation creation, writes and
 * the 404 budget have small limits and are always decided by Redis one request at a time.
 * How much: a subject's first request takes none; asked again while its lease still runs, it doubles
 * (1, 2, 4, … up to the cap); a lease that ran out of time before being used up halves. Requests of
 * the same subject that come while its lease is being asked for wait for it (their own round trip
 * would take as long), up to the cap; those it cannot serve, and any beyond the cap, ask Redis one
 * by one (batched), so a burst never queues behind lease after lease, and the next lease is asked
 * for at least as many.
 */
export interface LeaseOptions {
  /** Most requests one lease takes ahead; 0 turns leasing off. */
  max: number;
  /** How long leased requests may be spent here before what is left is given back. */
  ttlMs: number;
  /** A lease takes at most limit / limitShare of a bucket. */
  limitShare?: number;
  /** Decisions tracked at once; beyond it new subjects are decided one by one. */
  maxEntries?: number;
  now?: () => number;
}

/** Leases smaller than this are not worth their bookkeeping: such decisions always go to Redis. */
export const MIN_LEASE = 4;

type Ask = (buckets: Bucket[], extra: number) => Promise<GrantedDecision | undefined>;

interface Lease {
  /** The decision's buckets when the lease was taken (refunds and the 404 index use them). */
  buckets: Bucket[];
  /** Requests taken ahead and not yet spent here. */
  units: number;
  /** How many were asked for the last time. */
  size: number;
  grantedAt: number;
  expiresAt: number;
  /** Redis's answer when the requests were taken. */
  states: BucketState[];
  /** A lease request for this decision is on its way: others wait for its answer (waiters). */
  asking: boolean;
  /** Requests that came while the lease was being asked for: served from it, or sent on their own. */
  waiters: { buckets: Bucket[]; done: (d: Promise<Decision | undefined> | Decision) => void }[];
  /** How many waited in vain for the last lease: the next one is asked for at least that many. */
  want: number;
}

const signatureOf = (buckets: readonly Bucket[]): string => {
  let sig = '';
  for (const b of buckets) sig += `${b.key}\u0000${b.cost}\u0000`;
  return sig;
};

export class Leases {
  private readonly leases = new Map<string, Lease>();
  /** Check-only bucket key → the leases that checked it (ended when that bucket is spent). */
  private readonly checkedBy = new Map<string, Set<string>>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly sweeper: NodeJS.Timeout | undefined;
  private readonly max: number;
  private readonly ttlMs: number;
  private readonly limitShare: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly ask: Ask;

  constructor(ask: Ask, options: LeaseOptions) {
    this.ask = ask;
    this.max = options.max;
    this.ttlMs = options.ttlMs;
    this.limitShare = options.limitShare ?? 50;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
    if (this.max > 0) {
      this.sweeper = setInterval(() => this.sweep(), this.ttlMs);
      this.sweeper.unref();
    }
  }

  /** One decision over `buckets`: from this decision's lease when it has requests left, else from Redis. */
  async decide(buckets: Bucket[]): Promise<Decision | undefined> {
    this.spending(buckets);
    const cap = this.capOf(buckets);
    if (cap === 0) return this.ask(buckets, 0);
    const sig = signatureOf(buckets);
    const now = this.now();
    let lease = this.leases.get(sig);
    if (lease && now >= lease.expiresAt) this.giveBack(lease);
    if (lease && lease.units > 0) {
      lease.units--;
      return view(lease, buckets, now);
    }
    // The lease is on its way: wait for it (a round trip of its own would take as long).
    // At most a lease's worth wait: more than that would queue behind round trips one after another.
    if (lease?.asking) {
      const waiting = lease;
      if (waiting.waiters.length >= cap) return this.ask(buckets, 0);
      return new Promise((done) => waiting.waiters.push({ buckets, done }));
    }
    // Asked again while the lease still ran: busy enough to take more ahead; after a lapse, fewer.
    const size = !lease ? 0 : now < lease.expiresAt ? Math.min(cap, Math.max(1, lease.size * 2, lease.want)) : Math.floor(lease.size / 2);
    if (lease) lease.want = 0;
    if (!lease) {
      if (this.leases.size >= this.maxEntries) return this.ask(buckets, 0);
      lease = { buckets, units: 0, size: 0, grantedAt: now, expiresAt: now, states: [], asking: false, waiters: [], want: 0 };
      this.add(sig, lease);
    }
    lease.asking = true;
    let answer: GrantedDecision | undefined;
    try {
      answer = await this.ask(buckets, size);
    } finally {
      lease.asking = false;
    }
    const at = this.now();
    const waiters = lease.waiters;
    lease.waiters = [];
    if (this.leases.get(sig) !== lease) {
      // Ended while Redis answered (a 404 spent the budget it checked): what it took goes back now.
      if (answer?.granted) this.refund(buckets, answer.granted);
      for (const w of waiters) w.done(this.ask(w.buckets, 0));
      return answer;
    }
    lease.size = size;
    lease.expiresAt = at + this.ttlMs;
    if (answer?.allowed) {
      lease.units = answer.granted;
      lease.grantedAt = at;
      lease.states = answer.buckets;
    }
    const mine = answer?.allowed ? view(lease, buckets, at) : answer;
    // Those who waited are served from what was granted.
    let served = 0;
    for (; served < waiters.length && lease.units > 0; served++) {
      lease.units--;
      waiters[served]!.done(view(lease, waiters[served]!.buckets, at));
    }
    // The rest ask Redis each (together, in one call); the next lease is asked for at least as many.
    if (answer?.allowed) lease.want = waiters.length - served;
    for (const w of waiters.slice(served)) w.done(this.ask(w.buckets, 0));
    return mine;
  }

  /** Spends without deciding (404 counting): ends the leases that checked these buckets. */
  charge(buckets: Bucket[]): Promise<Decision | undefined> {
    this.spending(buckets);
    return this.ask(buckets, 0);
  }

  /** Gives back every lease's remaining requests (shutdown), waiting for Redis to take them. */
  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const lease of this.leases.values()) this.giveBack(lease);
    this.leases.clear();
    this.checkedBy.clear();
    await Promise.allSettled([...this.pending]);
  }

  private capOf(buckets: readonly Bucket[]): number {
    if (this.max === 0) return 0;
    let cap = this.max;
    let spends = false;
    for (const b of buckets) {
      if (b.cost <= 0) continue;
      spends = true;
      cap = Math.min(cap, Math.floor(b.limit / this.limitShare / b.cost));
    }
    return spends && cap >= MIN_LEASE ? cap : 0;
  }

  /** A bucket spent here ends the leases that only checked it (the 404 budget): they read it when it had more. */
  private spending(buckets: readonly Bucket[]): void {
    for (const b of buckets) {
      if (b.cost <= 0) continue;
      const sigs = this.checkedBy.get(b.key);
      if (!sigs) continue;
      for (const sig of [...sigs]) {
        const lease = this.leases.get(sig);
        if (!lease) continue;
        this.giveBack(lease);
        this.remove(sig, lease);
      }
    }
  }

  private giveBack(lease: Lease): void {
    if (lease.units > 0) this.refund(lease.buckets, lease.units);
    lease.units = 0;
  }

  private refund(buckets: readonly Bucket[], units: number): void {
    // The key alone (no alias): the units go back to the bucket they were taken from.
    const back = buckets.filter((b) => b.cost > 0).map((b) => ({ policy: b.policy, key: b.key, limit: b.limit, windowSeconds: b.windowSeconds, cost: -b.cost * units }));
    const sent = this.ask(back, 0);
    this.pending.add(sent);
    void sent.finally(() => this.pending.delete(sent));
  }

  private add(sig: string, lease: Lease): void {
    this.leases.set(sig, lease);
    for (const b of lease.buckets) {
      if (b.cost !== 0) continue;
      let sigs = this.checkedBy.get(b.key);
      if (!sigs) this.checkedBy.set(b.key, (sigs = new Set()));
      sigs.add(sig);
    }
  }

  private remove(sig: string, lease: Lease): void {
    this.leases.delete(sig);
    for (const b of lease.buckets) {
      if (b.cost !== 0) continue;
      const sigs = this.checkedBy.get(b.key);
      sigs?.delete(sig);
      if (sigs?.size === 0) this.checkedBy.delete(b.key);
    }
  }

  /** Expired leases give back what they have left; ones idle for another `ttlMs` are forgotten. */
  private sweep(): void {
    const now = this.now();
    for (const [sig, lease] of this.leases) {
      if (now < lease.expiresAt || lease.asking) continue;
      this.giveBack(lease);
      if (now >= lease.expiresAt + this.ttlMs) this.remove(sig, lease);
    }
  }
}

/** The answer a leased request gets: Redis's, with the requests still held here counted as not yet spent. */
function view(lease: Lease, buckets: readonly Bucket[], now: number): Decision {
  const elapsed = now - lease.grantedAt;
  return {
    allowed: true,
    retryAfterMs: 0,
    buckets: lease.states.map((s, i) => {
      const b = buckets[i]!;
      const ahead = b.cost > 0 ? lease.units * b.cost : 0;
      return { remaining: s.remaining + ahead, resetMs: Math.max(0, s.resetMs - ahead * intervalMs(b) - elapsed) };
    }),
  };
}
