/**
 * GCRA (generic cell rate algorithm) over any number of buckets, decided atomically on Redis's own
 * clock. A bucket admits `burst` requests at once and then one per `intervalMs`; there is no window
 * edge, so no 2x burst.
 *
 * One call carries a batch of independent decisions (every decision a gateway has to make within
 * one turn of its event loop), decided one after another inside the script: each decision is atomic
 * and sees the writes of the ones before it, exactly as if each had been its own call, but the batch
 * costs one round trip, one command to encode and parse and one script run.
 *
 * ARGV[1]: the number of decisions. Then, per decision: its bucket count n, the extra requests
 * asked for ahead (a lease, leases.ts: 0 for none), then three numbers per bucket — interval_ms,
 * burst, cost (0 = only check that one more would pass; negative = give back that many units, never
 * refused and never past a full bucket).
 * KEYS: two per bucket, in the same order — the key, and an alias read alongside it (the same key
 * when none; the key under the previous IP-hash secret during rotation, so rotating the secret buys
 * no quota).
 * A decision passes only if every one of its buckets passes; only then are its costs written. The
 * extra requests are taken with it only when every bucket can pay for them too; otherwise the
 * decision is made as if none had been asked for.
 * Returns, per decision: allowed, retry_after_ms, extra granted, then per bucket: remaining, reset_ms
 * (after this request and the extra ones granted).
 */
export const GCRA_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
local a = 2
local k = 0
for d = 1, tonumber(ARGV[1]) do
  local n = tonumber(ARGV[a])
  local granted = tonumber(ARGV[a + 1])
  a = a + 2
  local tats = {}
  for i = 1, n do
    local key = KEYS[k + 2 * i - 1]
    local tat = tonumber(redis.call('GET', key) or '0')
    if KEYS[k + 2 * i] ~= key then
      local alias = tonumber(redis.call('GET', KEYS[k + 2 * i]) or '0')
      if alias > tat then tat = alias end
    end
    if tat < now then tat = now end
    tats[i] = tat
  end
  local allowed
  local retry
  repeat
    allowed = 1
    retry = 0
    for i = 1, n do
      local interval = tonumber(ARGV[a + 3 * i - 3])
      local burst = tonumber(ARGV[a + 3 * i - 2])
      local cost = tonumber(ARGV[a + 3 * i - 1])
      if cost >= 0 then
        local c = cost * (1 + granted)
        if c < 1 then c = 1 end
        local allow_at = tats[i] + interval * c - interval * burst
        if now < allow_at then
          allowed = 0
          if allow_at - now > retry then retry = allow_at - now end
        end
      end
    end
    if allowed == 1 or granted == 0 then break end
    granted = 0
  until false
  if allowed == 0 then granted = 0 end
  out[#out + 1] = allowed
  out[#out + 1] = retry
  out[#out + 1] = granted
  for i = 1, n do
    local interval = tonumber(ARGV[a + 3 * i - 3])
    local burst = tonumber(ARGV[a + 3 * i - 2])
    local cost = tonumber(ARGV[a + 3 * i - 1])
    local tat = tats[i]
    if allowed == 1 and cost ~= 0 then
      if cost > 0 then
        tat = tat + interval * cost * (1 + granted)
      else
        tat = tat + interval * cost
        if tat < now then tat = now end
      end
      if tat > now then
        redis.call('SET', KEYS[k + 2 * i - 1], tat, 'PX', tat - now)
      else
        redis.call('DEL', KEYS[k + 2 * i - 1])
      end
    end
    local remaining = math.floor((now + interval * burst - tat) / interval)
    if remaining < 0 then remaining = 0 end
    out[#out + 1] = remaining
    out[#out + 1] = tat - now
  end
  a = a + 3 * n
  k = k + 2 * n
end
return out
`;

export interface Bucket {
  /** Policy name, for headers and metrics. */
  policy: string;
  key: string;
  /** Also counted (read, never written): the key under the previous secret. */
  alias?: string;
  limit: number;
  windowSeconds: number;
  /** 0 = check only. */
  cost: number;
}

export interface BucketState {
  remaining: number;
  resetMs: number;
}

export interface Decision {
  allowed: boolean;
  retryAfterMs: number;
  buckets: BucketState[];
}

/** A decision from Redis, with the extra requests it took ahead for a lease (leases.ts). */
export interface GrantedDecision extends Decision {
  granted: number;
}

export function intervalMs(b: Pick<Bucket, 'limit' | 'windowSeconds'>): number {
  return Math.max(1, Math.floor((b.windowSeconds * 1000) / b.limit));
}

/**
 * The same algorithm in process memory, for reads while Redis is down. Per instance, so a fleet
 * of N gateways admits up to N times the policy: acceptable for generous public reads, which is
 * why only they fail open.
 */
export class LocalGcra {
  private readonly tats = new Map<string, number>();
  private readonly maxKeys;
  constructor(maxKeys = 100_000) {
    this.maxKeys = maxKeys;
  }

  decide(buckets: Bucket[], now = Date.now()): Decision {
    if (this.tats.size > this.maxKeys) this.sweep(now);
    let allowed = true;
    let retry = 0;
    const tats = buckets.map((b) => {
      const interval = intervalMs(b);
      const tat = Math.max(this.tats.get(b.key) ?? 0, now);
      const allowAt = tat + interval * Math.max(1, b.cost) - interval * b.limit;
      if (now < allowAt) {
        allowed = false;
        retry = Math.max(retry, allowAt - now);
      }
      return tat;
    });
    const states = buckets.map((b, i) => {
      const interval = intervalMs(b);
      let tat = tats[i]!;
      if (allowed && b.cost > 0) {
        tat += interval * b.cost;
        this.tats.set(b.key, tat);
      }
      return { remaining: Math.max(0, Math.floor((now + interval * b.limit - tat) / interval)), resetMs: tat - now };
    });
    return { allowed, retryAfterMs: retry, buckets: states };
  }

  private sweep(now: number): void {
    for (const [k, tat] of this.tats) if (tat <= now) this.tats.delete(k);
    if (this.tats.size > this.maxKeys) this.tats.clear();
  }
}
