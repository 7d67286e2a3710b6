import type { Logger } from '@imlab/logger';

/**
 * Work that runs after the answer was sent. Used where doing it inline would make the answer's
 * timing depend on whether an email address is known (forgot, resend, sign-up). Everything it
 * writes goes through the outbox, so a crash loses at most an email the person can ask for again.
 */
export function createBackground(logger: Logger) {
  const pending = new Set<Promise<void>>();
  return {
    run(name: string, work: () => Promise<unknown>): void {
      const p: Promise<void> = work()
        .then(() => undefined)
        .catch((err: unknown) => logger.error({ err, task: name }, 'background task failed'))
        .finally(() => pending.delete(p));
      pending.add(p);
    },
    /** Resolves when every task started so far has finished (shutdown, tests). */
    async drain(): Promise<void> {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}

export type Background = ReturnType<typeof createBackground>;
