import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createLogger } from '@imlab/logger';
import { createLimiter, DecisionBatcher, MAX_BATCH, type Limiter } from '../src/rate-limit/limiter.js';
import type { Bucket } from '../src/rate-limit/gcra.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const logger = createLogger({ service: 'gateway-test', level: 'silent' });

let limiter: Limiter;
const batches: number[] = [];

beforeAll(async () => {
  limiter = createLimiter(REDIS_URL, 2000, logger, (n) => batches.push(n));
  expect(await limiter.waitReady(5000)).toBe(true);
});
afterAll(async () => {
  await limiter.close();
});

const prefix = () => `imlab:test:rl:${randomUUID()}`;
const hourly = (key: string, limit: number, cost = 1, alias?: string): Bucket => ({ policy: 'p', key, limit, windowSeconds: 3600, cost, ...(alias ? { alias } : {}) });

describe('batched GCRA decisions', () => {
  it('sends the decisions asked for in one turn together, and still admits exactly the limit', async () => {
    const key = `${prefix()}:a`;
    batches.length = 0;
    const outcomes = await Promise.all(Array.from({ length: 150 }, () => limiter.decide([hourly(key, 10)], false)));
    expect(batches).toEqual([MAX_BATCH, MAX_BATCH, 150 - 2 * MAX_BATCH]);
    expect(outcomes.every((o) => o.source === 'redis')).toBe(true);
    // Decided in the order asked: the first ten pass, with 9, 8, … 0 left; every later one is refused.
    expect(outcomes.map((o) => o.allowed)).toEqual([...Array<boolean>(10).fill(true), ...Array<boolean>(140).fill(false)]);
    expect(outcomes.slice(0, 10).map((o) => o.buckets[0]!.remaining)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(outcomes[10]!.retryAfterMs).toBeGreaterThan(0);
  });

  it('sends a lone decision at once, without waiting for company', async () => {
    batches.length = 0;
    const started = performance.now();
    const outcome = await limiter.decide([hourly(`${prefix()}:b`, 3)], false);
    expect(outcome.allowed).toBe(true);
    expect(batches).toEqual([1]);
    expect(performance.now() - started).toBeLessThan(1500); // no batching timer to wait out
  });

  it('answers exactly as one call per decision would, for any mix of decisions in a batch', async () => {
    // Decisions over a few shared keys, some with a check-only bucket or an alias, in random order:
    // asked all at once (one batch) and asked one after another must agree on every answer.
    const decision = fc.array(
      fc.record({ key: fc.integer({ min: 0, max: 3 }), limit: fc.integer({ min: 1, max: 4 }), cost: fc.integer({ min: 0, max: 2 }), alias: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }) }),
      { minLength: 1, maxLength: 3 },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(decision, { minLength: 1, maxLength: 30 }), async (plan) => {
        const [together, alone] = [prefix(), prefix()];
        const bucketsOf = (p: string, d: typeof plan[number]) =>
          d.map((b) => hourly(`${p}:${b.key}`, b.limit, b.cost, b.alias === undefined ? undefined : `${p}:${b.alias}`));
        const batched = await Promise.all(plan.map((d) => limiter.decide(bucketsOf(together, d), false)));
        const sequential = [];
        for (const d of plan) sequential.push(await limiter.decide(bucketsOf(alone, d), false));
        const view = (o: (typeof batched)[number]) => ({ allowed: o.allowed, remaining: o.buckets.map((b) => b.remaining) });
        expect(batched.map(view)).toEqual(sequential.map(view));
      }),
      { numRuns: 25 },
    );
  });

  it('answers every decision of a failed call with nothing, so each falls back on its own terms', async () => {
    let calls = 0;
    const failing = new DecisionBatcher(() => {
      calls++;
      return Promise.reject(new Error('Connection is closed.'));
    });
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => failing.decide([hourly(`k${i}`, 1)])));
    expect(answers).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(calls).toBe(1);

    // Even a failure before the call (here the batch-size observer throwing) answers every decision.
    const throwing = new DecisionBatcher(
      () => Promise.resolve([1, 0, 0, 0]),
      () => {
        throw new Error('observer failed');
      },
    );
    expect(await Promise.all([throwing.decide([hourly('x', 1)]), throwing.decide([hourly('y', 1)])])).toEqual([undefined, undefined]);
  });

  it('degrades per decision when Redis cannot be reached: reads locally, auth refused', async () => {
    const down = createLimiter('redis://127.0.0.1:1', 200, logger);
    try {
      const key = `${prefix()}:c`;
      const [open, closed] = await Promise.all([down.decide([hourly(key, 2)], true), down.decide([hourly(key, 2)], false)]);
      expect(open).toMatchObject({ source: 'local', allowed: true });
      expect(closed).toMatchObject({ source: 'unavailable', allowed: false });
    } finally {
      await down.close();
    }
  });
});
