/**
 * GCRA (generic cell rate algorithm) over any number of buckets, decided atomically in one Redis
 * round trip on Redis's own clock. A bucket admits `burst` requests at once and then one per
 * `intervalMs`; there is no window edge, so no 2x burst.
 *
 * KEYS: two per bucket — the key, and an alias read alongside it (the same key when none; the key
 * under the previous IP-hash secret during rotation, so rotating the secret buys no quota).
 * ARGV: three per bucket — interval_ms, burst, cost (0 = only check that one more would pass).
 * The request passes only if every bucket passes; only then are the costs written.
 * Returns {allowed, retry_after_ms, then per bucket: remaining, reset_ms}.
 */
export const GCRA_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #ARGV / 3
local tats = {}
local allowed = 1
local retry = 0
for i = 1, n do
  local interval = tonumber(ARGV[3 * i - 2])
  local burst = tonumber(ARGV[3 * i - 1])
  local cost = tonumber(ARGV[3 * i])
  local tat = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  if KEYS[2 * i] ~= KEYS[2 * i - 1] then
    local alias = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
    if alias > tat then tat = alias end
  end
  if tat < now then tat = now end
  local c = cost
  if c < 1 then c = 1 end
  local allow_at = tat + interval * c - interval * burst
  if now < allow_at then
    allowed = 0
    if allow_at - now > retry then retry = allow_at - now end
  end
  tats[i] = tat
end
local out = { allowed, retry }
for i = 1, n do
  local interval = tonumber(ARGV[3 * i - 2])
  local burst = tonumber(ARGV[3 * i - 1])
  local cost = tonumber(ARGV[3 * i])
  local tat = tats[i]
  if allowed == 1 and cost > 0 then
    tat = tat + interval * cost
    redis.call('SET', KEYS[2 * i - 1], tat, 'PX', tat - now)
  end
  local remaining = math.floor((now + interval * burst - tat) / interval)
  if remaining < 0 then remaining = 0 end
  out[#out + 1] = remaining
  out[#out + 1] = tat - now
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
  constructor(private readonly maxKeys = 100_000) {}

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
