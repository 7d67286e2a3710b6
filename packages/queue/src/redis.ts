import { Redis } from 'ioredis';

export { Redis };

/** Redacts the password of a redis URL for messages. */
export function describeRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable REDIS_URL)';
  }
}

/** The long-lived connection BullMQ wants: never gives up on a request, reconnects forever. */
export function connectRedis(url: string, name = 'imlab'): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, connectionName: name });
}

/**
 * Start-up check: Redis answers, and runs with `maxmemory-policy noeviction` (BullMQ loses jobs
 * under any eviction policy). Throws one clear message otherwise.
 */
export async function assertRedisReady(url: string, timeoutMs = 3000): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs, enableOfflineQueue: false });
  client.on('error', () => {});
  try {
    try {
      await client.connect();
    } catch (err) {
      throw new Error(`cannot reach Redis at ${describeRedisUrl(url)}: ${(err as Error).message}`, { cause: err });
    }
    let policy: string | undefined;
    try {
      const reply = (await client.call('CONFIG', 'GET', 'maxmemory-policy')) as string[];
      policy = reply[1];
    } catch {
      // CONFIG is disabled on some managed Redis: INFO still tells
      const info = await client.info('memory');
      policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
    }
    if (policy !== 'noeviction') {
      throw new Error(`Redis at ${describeRedisUrl(url)} runs with maxmemory-policy "${policy ?? 'unknown'}"; queues need "noeviction" (set maxmemory-policy noeviction)`);
    }
  } finally {
    client.disconnect();
  }
}

/** BullMQ key prefix, hash-tagged so every key of the system lands in one Redis Cluster slot. */
export function queuePrefix(prefix: string): string {
  return prefix.startsWith('{') ? prefix : `{${prefix}}`;
}
