// Runs after every other suite: nothing the browsers sent as identity (source addresses, user
// agent) or were given as secrets (session tokens) may be found in any log line, Redis key or
// value, or table of the system; and only the two first-party cookies were ever set.
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { infra } from '@imlab/testing';
import { scanDatabase, type E2E } from './system.js';
import { CLIENT_IPS, CLIENT_UA, issued } from './browser.js';

async function redisDump(prefix: string): Promise<{ keys: number; text: string }> {
  const redis = new Redis(infra().redisUrl);
  const parts: string[] = [];
  let keys = 0;
  try {
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      for (const key of batch) {
        keys++;
        const type = await redis.type(key);
        const value =
          type === 'string'
            ? await redis.get(key)
            : type === 'hash'
              ? JSON.stringify(await redis.hgetall(key))
              : type === 'list'
                ? JSON.stringify(await redis.lrange(key, 0, -1))
                : type === 'zset'
                  ? JSON.stringify(await redis.zrange(key, 0, -1))
                  : type === 'set'
                    ? JSON.stringify(await redis.smembers(key))
                    : type === 'stream'
                      ? JSON.stringify(await redis.xrange(key, '-', '+'))
                      : '';
        parts.push(key, value ?? '');
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return { keys, text: parts.join('\n') };
}

export function leakSuite(e2e: E2E): void {
  describe('after all of it', () => {
    it('never stored or logged a raw client address, user agent or session token, and set only imlab_sid and locale', async () => {
      const needles = [CLIENT_UA, 'journey-ua-marker', ...Object.values(CLIENT_IPS), ...issued.sessionTokens];
      expect(issued.sessionTokens.size).toBeGreaterThan(3);
      expect([...issued.cookieNames].sort()).toEqual(expect.arrayContaining(['imlab_sid']));
      expect([...issued.cookieNames].every((n) => n === 'imlab_sid' || n === 'locale')).toBe(true);

      const logText = e2e.sys.logs.join('');
      expect(logText.length).toBeGreaterThan(10_000);
      for (const n of needles) expect(logText.includes(n), `logs contain ${n}`).toBe(false);

      const redis = await redisDump(e2e.sys.prefix);
      expect(redis.keys).toBeGreaterThan(5);
      for (const n of needles) expect(redis.text.includes(n), `Redis contains ${n}`).toBe(false);

      for (const name of Object.values(e2e.sys.databases)) {
        expect(await scanDatabase(name, needles)).toEqual([]);
      }
    }, 120_000);
  });
}
