import type { FastifyReply } from 'fastify';
import type { Bucket } from './gcra.js';
import type { DecisionOutcome } from './limiter.js';

/**
 * IETF draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy: "read";q=1200;w=60` and
 * `RateLimit: "read";r=1187;t=1`. On a refusal they describe the bucket that refused (a check-only
 * bucket such as the 404 budget included); otherwise the tightest bucket that was spent
 * (r = requests left, t = seconds until the bucket is full again).
 */
export function rateLimitHeaderValues(buckets: Bucket[], outcome: DecisionOutcome): { policy: string; state: string } | undefined {
  if (outcome.buckets.length === 0) return undefined;
  let pick = outcome.allowed ? -1 : refusingIndex(buckets, outcome);
  if (pick === -1) {
    for (let i = 0; i < buckets.length; i++) {
      if (buckets[i]!.cost === 0) continue;
      if (pick === -1 || outcome.buckets[i]!.remaining < outcome.buckets[pick]!.remaining) pick = i;
    }
  }
  if (pick === -1) return undefined;
  const b = buckets[pick]!;
  const s = outcome.buckets[pick]!;
  return { policy: `"${b.policy}";q=${b.limit};w=${b.windowSeconds}`, state: `"${b.policy}";r=${s.remaining};t=${Math.ceil(s.resetMs / 1000)}` };
}

export function setRateLimitHeaders(reply: FastifyReply, buckets: Bucket[], outcome: DecisionOutcome): void {
  const values = rateLimitHeaderValues(buckets, outcome);
  if (!values) return;
  reply.header('ratelimit-policy', values.policy);
  reply.header('ratelimit', values.state);
}

/** The first bucket whose next request would not pass, or -1. */
function refusingIndex(buckets: Bucket[], outcome: DecisionOutcome): number {
  for (let i = 0; i < buckets.length; i++) if (outcome.buckets[i] && outcome.buckets[i]!.remaining === 0) return i;
  return -1;
}

/** Which bucket refused, for the 429's policy name. */
export function refusingPolicy(buckets: Bucket[], outcome: DecisionOutcome): string {
  const i = refusingIndex(buckets, outcome);
  return i >= 0 ? buckets[i]!.policy : (buckets[0]?.policy ?? 'unknown');
}
