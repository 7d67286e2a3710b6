import type { FastifyReply, FastifyRequest } from 'fastify';
import { suspendedUserKey } from '@imlab/contracts';
import { AppError } from './app-error.js';
import { authenticate } from './internal-auth.js';

/** Where auth marks suspended accounts (the shared Redis and queue prefix; ioredis fits). */
export interface SuspensionSource {
  redis: { exists(key: string): Promise<number> };
  keyPrefix: string;
}

/**
 * preHandler for what a suspended account may not do (create, publish, buy): a signed-in caller
 * whose account auth marked suspended gets 403 `ACCOUNT_SUSPENDED`. A suspension ends every session
 * too, so this only meets tokens minted just before it. Redis not answering: the write goes
 * through (Postgres keeps the suspended account from signing in again; refusing every write while
 * Redis stalls would take the site down with it).
 */
export function refuseSuspended(source: SuspensionSource) {
  return async function checkNotSuspended(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!request.user) await authenticate(request, reply);
    const marked = await source.redis.exists(suspendedUserKey(source.keyPrefix, request.user.sub)).catch((err: unknown) => {
      request.log.warn({ err }, 'suspension state unavailable; not checked');
      return 0;
    });
    if (marked) throw new AppError('ACCOUNT_SUSPENDED');
  };
}
