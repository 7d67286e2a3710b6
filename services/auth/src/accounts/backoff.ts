import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';

/**
 * Per-account login backoff, keyed by a hash of the normalised email whether or not an account
 * exists, so the answer never tells known addresses from unknown ones. It grows exponentially
 * but never past LOGIN_BACKOFF_MAX, and a password reset clears it: an attacker can slow the
 * owner down but never lock them out.
 */
export function createBackoff(redis: Redis, keyPrefix: string, config: Config) {
  const key = (email: string) => `${keyPrefix}auth:login-fail:${createHash('sha256').update(`login:${email}`).digest('hex')}`;
  return {
    /** Seconds to wait, or 0 when an attempt may be made now. */
    async retryAfter(email: string): Promise<number> {
      const until = Number(await redis.hget(key(email), 'until'));
      const wait = Math.ceil((until - Date.now()) / 1000);
      return Number.isFinite(wait) && wait > 0 ? wait : 0;
    },
    async recordFailure(email: string): Promise<void> {
      const k = key(email);
      const fails = await redis.hincrby(k, 'fails', 1);
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
