import { sessionsEndedChannel } from '@imlab/contracts';
import { connectRedis, queuePrefix } from '@imlab/queue';
import type { Logger } from '@imlab/logger';
import type { SessionResolver } from './sessions.js';

/**
 * Auth announces a person whose sessions all ended (an admin suspended them) on a Redis channel;
 * this gateway drops its in-process reuse of their sessions at once, so their next request is
 * asked of auth (which refuses it) instead of being forwarded for up to SESSION_CACHE_TTL. A
 * missed announcement (Redis down) leaves the usual bounds: services refuse the tokens within ~1 s
 * (the revocation marks), this cache forgets them within SESSION_CACHE_TTL.
 */
export function listenForEndedSessions(opts: { redisUrl: string; queuePrefix: string; sessions: SessionResolver; logger: Logger }): { close(): Promise<void> } {
  const redis = connectRedis(opts.redisUrl, 'gateway-sessions-ended');
  const channel = sessionsEndedChannel(queuePrefix(opts.queuePrefix));
  let down = false;
  redis.on('error', (err) => {
    if (!down) opts.logger.warn({ err: { message: err.message } }, 'sessions-ended channel unavailable');
    down = true;
  });
  redis.on('ready', () => {
    down = false;
  });
  redis.on('message', (got, userId) => {
    if (got === channel && /^[0-9a-f-]{36}$/.test(userId)) opts.sessions.forgetUser(userId);
  });
  void redis.subscribe(channel).catch((err: unknown) => opts.logger.warn({ err }, 'could not subscribe to the sessions-ended channel'));
  return {
    close: async () => {
      // QUIT waits in the offline queue of a client that never connected (Redis down): drop it.
      if (redis.status !== 'ready') return redis.disconnect();
      await Promise.race([redis.quit().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
      redis.disconnect();
    },
  };
}
