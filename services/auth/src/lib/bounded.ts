import { AppError } from '@imlab/http';

/** Raised by `bounded` when Redis did not answer in time. */
export class RedisStalled extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: Redis did not answer within ${ms} ms`);
  }
}

/**
 * A Redis call that waits at most `ms`. The shared connection queues commands while Redis stalls
 * (a `CLIENT PAUSE`, a failover, a blocked server), so without this a request would wait as long
 * as the stall does. The command itself is not cancelled: it runs whenever Redis comes back.
 */
export async function bounded<T>(what: string, ms: number, call: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      call,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RedisStalled(what, ms)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** For credential routes (sign-in, sign-up, reset): no answer from Redis is a 503, never a skipped check. */
export async function failClosed<T>(what: string, ms: number, call: Promise<T>): Promise<T> {
  try {
    return await bounded(what, ms, call);
  } catch (err) {
    throw new AppError('SERVICE_UNAVAILABLE', { message: `${what} unavailable`, details: { retryAfter: 2 }, cause: err });
  }
}
