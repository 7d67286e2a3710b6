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

export function createHasher(current: string, previous?: string): Hasher {
  return {
    ip: (a) => hmacHex(current, 'ip', a),
    ua: (u) => hmacHex(current, 'ua', u),
    previousIp: (a) => (previous ? hmacHex(previous, 'ip', a) : undefined),
  };
}
