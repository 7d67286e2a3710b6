import type { FastifyReply } from 'fastify';
import type { Bucket } from './gcra.js';
import type { DecisionOutcome } from './limiter.js';

/**
 * IETF draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy: "read";q=1200;w=60` and
 * `RateLimit: "read";r=1187;t=1` for the tightest bucket that was spent (r = requests left,
 * t = seconds until the bucket is full again).
 */
export function setRateLimitHeaders(reply: FastifyReply, buckets: Bucket[], outcome: DecisionOutcome): void {
  if (outcome.buckets.length === 0) return;
  let best = -1;
  for (let i = 0; i < buckets.length; i++) {
    if (buckets[i]!.cost === 0) continue;
    if (best === -1 || outcome.buckets[i]!.remaining < outcome.buckets[best]!.remaining) best = i;
  }
  if (best === -1) return;
  const b = buckets[best]!;
  const s = outcome.buckets[best]!;
  reply.header('ratelimit-policy', `"${b.policy}";q=${b.limit};w=${b.windowSeconds}`);
  reply.header('ratelimit', `"${b.policy}";r=${s.remaining};t=${Math.ceil(s.resetMs / 1000)}`);
}

/** Which bucket refused: the first whose next request would not pass, for the 429's policy name. */
export function refusingPolicy(buckets: Bucket[], outcome: DecisionOutcome): string {
  for (let i = 0; i < buckets.length; i++) if (outcome.buckets[i] && outcome.buckets[i]!.remaining === 0) return buckets[i]!.policy;
  return buckets[0]?.policy ?? 'unknown';
}
