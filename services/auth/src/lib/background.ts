import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '@imlab/http';
import type { Logger } from '@imlab/logger';

/** Waits before the second, third and fourth attempt of a task that failed for a passing reason. */
export const BACKGROUND_RETRY_DELAYS_MS = [250, 1_000, 3_000] as const;

/**
 * Work that runs after the answer was sent. Used where doing it inline would make the answer's
 * timing depend on whether an email address is known (forgot, resend, sign-up). Everything it
 * writes goes through the outbox, so a crash loses at most an email the person can ask for again.
 *
 * Nobody is waiting to be told it failed: the person was already answered "check your inbox". So
 * a task that failed for a passing reason (Redis or Postgres slow past their bound, a connection
 * dropped: anything but an AppError that says it is not retryable) runs again after 0.25, 1 and
 * 3 s. Each task is safe to repeat: the sign-up inserts only a new address, and the mails are
 * behind per-account cooldowns and idempotency keys.
 */
export function createBackground(logger: Logger, delaysMs: readonly number[] = BACKGROUND_RETRY_DELAYS_MS) {
  const pending = new Set<Promise<void>>();
  return {
    run(name: string, work: () => Promise<unknown>): void {
      const attempt = async (): Promise<void> => {
        for (let i = 0; ; i++) {
          try {
            await work();
            return;
          } catch (err) {
            const retryable = !(err instanceof AppError) || err.retryable;
            if (!retryable || i >= delaysMs.length) {
              logger.error({ err, task: name, attempts: i + 1 }, 'background task failed');
              return;
            }
            logger.warn({ err, task: name, attempt: i + 1 }, 'background task failed; trying again');
            await sleep(delaysMs[i]);
          }
        }
      };
      const p: Promise<void> = attempt().finally(() => pending.delete(p));
      pending.add(p);
    },
    /** Resolves when every task started so far has finished, its retries included (shutdown, tests). */
    async drain(): Promise<void> {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}

export type Background = ReturnType<typeof createBackground>;
