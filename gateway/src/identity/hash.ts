import { createHmac } from 'node:crypto';

/**
 * HMAC-SHA256 hex of a client attribute. The `kind` is mixed in so an IP hash can never equal a
 * user-agent hash, whatever the inputs.
 */
export function hmacHex(secret: string, kind: 'ip' | 'ua', value: string): string {
  return createHmac('sha256', secret).update(kind).update('\0').update(value).digest('hex');
}

export interface Hasher {
  ip(normalizedAddress: string): string;
  ua(userAgent: string): string;
  /** The IP hash under the secret being rotated out, or undefined when no rotation is in progress. */
  previousIp(normalizedAddress: string): string | undefined;
}

/**
 * Hashes are memoised in process memory (bounded): the same clients come back on every request,
 * and the raw value never leaves this process either way.
 */
/** Longest value kept in a memo: real addresses and user agents are far shorter. */
export const MEMO_MAX_KEY = 512;

function memo(fn: (v: string) => string, max = 10_000): (v: string) => string {
  const cache = new Map<string, string>();
  return (v) => {
    // Only values of a sane size are kept (a crafted 16 KiB user agent per entry would fill memory).
    if (v.length > MEMO_MAX_KEY) return fn(v);
    let h = cache.get(v);
    if (h === undefined) {
      if (cache.size >= max) cache.clear();
      h = fn(v);
      cache.set(v, h);
    }
    return h;
  };
}

export function createHasher(current: string, previous?: string): Hasher {
  const prev = previous ? memo((a) => hmacHex(previous, 'ip', a)) : undefined;
  return {
    ip: memo((a) => hmacHex(current, 'ip', a)),
    ua: memo((u) => hmacHex(current, 'ua', u)),
    previousIp: (a) => prev?.(a),
  };
}
