import { describe, expect, it } from 'vitest';
import { DEFAULT_JOB_OPTIONS, FAILED_JOB_RETENTION_S, MESSAGE_LIFETIME_LIMIT_MS, PERSISTENT_JOB_OPTIONS, PERSISTENT_RETRY_SPAN_MS } from '../src/bus.js';

// The privacy policy: the messages the services pass to each other are deleted within 30 days. A
// message lives through its retries, then as a failed job until removeOnFail's age (a completed
// one for a day). Both kinds of message stay inside the limit.
const failedAge = (o: typeof DEFAULT_JOB_OPTIONS) => (o.removeOnFail as { age: number }).age * 1000;
// Bus.prune removes failed jobs of any kind once older than FAILED_JOB_RETENTION_S (BullMQ's own
// removeOnFail trims only when another job of the queue finishes).
const FAILED_MS = FAILED_JOB_RETENTION_S * 1000;

describe('how long a message lives in Redis', () => {
  it('an ordinary message: its retries (exponential from 500 ms), then 9 days as failed', () => {
    const attempts = DEFAULT_JOB_OPTIONS.attempts!;
    const retries = Array.from({ length: attempts - 1 }, (_, i) => 500 * 2 ** i).reduce((a, b) => a + b, 0);
    expect(failedAge(DEFAULT_JOB_OPTIONS)).toBe(FAILED_JOB_RETENTION_S * 1000);
    expect(retries + failedAge(DEFAULT_JOB_OPTIONS)).toBeLessThanOrEqual(MESSAGE_LIFETIME_LIMIT_MS);
  });

  it('a persistent message (user.purge): ~20 days of retries, then kept as failed, inside 30 days', () => {
    expect(PERSISTENT_RETRY_SPAN_MS / 86_400_000).toBeGreaterThan(19);
    expect(PERSISTENT_JOB_OPTIONS.removeOnFail ?? DEFAULT_JOB_OPTIONS.removeOnFail).toEqual({ age: FAILED_JOB_RETENTION_S });
    expect(FAILED_MS).toBeGreaterThan(7 * 86_400_000); // still a week for ops to see and replay it
    expect(PERSISTENT_RETRY_SPAN_MS + FAILED_MS).toBeLessThanOrEqual(MESSAGE_LIFETIME_LIMIT_MS);
  });
});
