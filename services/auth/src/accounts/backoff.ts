import { createHash, createHmac } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { failClosed } from '../lib/bounded.js';

/**
 * HMAC-SHA256 of something naming a person (an address), for Redis keys: a plain hash of an
 * address is found again by hashing a list of addresses. The key is derived from
 * MESSAGE_SEAL_KEY (domain-separated, so it is never the sealing key itself).
 */
export function identifierHash(config: Pick<Config, 'MESSAGE_SEAL_KEY'>, value: string): string {
  const key = createHash('sha256').update(`imlab-identifier-hmac:${config.MESSAGE_SEAL_KEY}`).digest();
  return createHmac('sha256', key).update(value).digest('hex');
}

/**
 * Per-account login backoff, keyed by a hash of the normalised email whether or not an account
 * exists, so the answer never tells known addresses from unknown ones. It grows exponentially
 * but never past LOGIN_BACKOFF_MAX, and a password reset clears it: an attacker can slow the
 * owner down but never lock them out.
 */
export function createBackoff(redis: Redis, keyPrefix: string, config: Config) {
  const key = (email: string) => `${keyPrefix}auth:login-fail:${identifierHash(config, `login:${email}`)}`;
  return {
    /** Seconds to wait, or 0 when an attempt may be made now. */
    async retryAfter(email: string): Promise<number> {
      const until = Number(await failClosed('login backoff', config.AUTH_REDIS_TIMEOUT_MS, redis.hget(key(email), 'until')));
      const wait = Math.ceil((until - Date.now()) / 1000);
      return Number.isFinite(wait) && wait > 0 ? wait : 0;
    },
    async recordFailure(email: string): Promise<void> {
      const k = key(email);
      const fails = await failClosed('login backoff', config.AUTH_REDIS_TIMEOUT_MS, redis.hincrby(k, 'fails', 1));
      const over = fails - config.LOGIN_FREE_ATTEMPTS;
      if (over >= 0) {
        const delay = Math.min(config.LOGIN_BACKOFF_BASE * 2 ** over, config.LOGIN_BACKOFF_MAX);
        await redis.hset(k, 'until', String(Date.now() + delay * 1000));
      }
      // forget old failures a day after the last one
      await redis.expire(k, Math.ceil(config.LOGIN_BACKOFF_MAX) + 86400);
    },
    async clear(email: string): Promise<void> {
      await redis.del(key(email));
    },
  };
}

export type Backoff = ReturnType<typeof createBackoff>;
