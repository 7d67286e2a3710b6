import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@imlab/logger';
import { createLimiter, type Limiter } from '../src/rate-limit/limiter.js';
import type { Bucket } from '../src/rate-limit/gcra.js';
import { loadGatewayConfig } from '../src/config.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const logger = createLogger({ service: 'gateway-test', level: 'silent' });
const TTL = 200;

const prefix = () => `imlab:test:lease:${randomUUID()}`;
/** Hourly buckets: at these limits nothing refills during a test (one request per 9 s or slower). */
const hourly = (key: string, limit: number, cost = 1): Bucket => ({ policy: 'read', key, limit, windowSeconds: 3600, cost });

const limiters: Limiter[] = [];
let plain: Limiter;
/** A gateway's limiter with leases (TTL), connected, and the sizes of the Redis calls it makes. */
async function leased(): Promise<{ limiter: Limiter; sent: number[] }> {
  const sent: number[] = [];
  const limiter = createLimiter(REDIS_URL, 2000, logger, (n) => sent.push(n), { max: 32, ttlMs: TTL });
  limiters.push(limiter);
  expect(await limiter.waitReady(5000)).toBe(true);
  return { limiter, sent };
}

beforeAll(async () => {
  plain = createLimiter(REDIS_URL, 2000, logger);
  expect(await plain.waitReady(5000)).toBe(true);
});
afterAll(async () => {
  await Promise.all([plain, ...limiters].map((l) => l.close()));
});

/** What Redis says is left in a bucket, asked without spending and without leases. */
async function left(key: string, limit: number): Promise<number> {
  const o = await plain.decide([hourly(key, limit, 0)], false);
  return o.buckets[0]!.remaining;
}

describe('rate-limit leases', () => {
  it('serves a busy subject mostly from its lease, with the same RateLimit numbers as one Redis call per request', async () => {
    const { limiter, sent } = await leased();
    const key = `${prefix()}:busy`;
    sent.length = 0;
    const remaining: number[] = [];
    for (let i = 0; i < 300; i++) {
      const o = await limiter.decide([hourly(key, 1200)], false);
      expect(o.allowed).toBe(true);
      remaining.push(o.buckets[0]!.remaining);
    }
    // 1199, 1198, … exactly as without leases
    expect(remaining).toEqual(Array.from({ length: 300 }, (_, i) => 1199 - i));
    // 1200 / 50 = 24 ahead at most: 1, 2, 4, 8, 16, 24, 24, … → about one call in twenty
    expect(sent.length).toBeLessThan(30);
    // what the lease still holds is spent in Redis already; after it runs out, it goes back
    expect(await left(key, 1200)).toBeLessThanOrEqual(900);
    await sleep(TTL * 2.5);
    expect(await left(key, 1200)).toBe(900);
  });

  it('serves bursts of one subject from leases: those who come while a lease is asked for wait for it, up to its size', async () => {
    const { limiter, sent } = await leased();
    const key = `${prefix()}:burst`;
    for (let i = 0; i < 10; i++) await limiter.decide([hourly(key, 5000)], false);
    sent.length = 0;
    const remaining: number[] = [];
    // a page firing 20 requests at once, five times
    for (let wave = 0; wave < 5; wave++) {
      const burst = await Promise.all(Array.from({ length: 20 }, () => limiter.decide([hourly(key, 5000)], false)));
      expect(burst.every((o) => o.allowed)).toBe(true);
      remaining.push(...burst.map((o) => o.buckets[0]!.remaining));
    }
    // each request its own number, none skipped: 4989 … 4890
    expect(remaining.sort((a, b) => b - a)).toEqual(Array.from({ length: 100 }, (_, i) => 4989 - i));
    // most were served without a round trip of their own
    expect(sent.reduce((a, n) => a + n, 0)).toBeLessThanOrEqual(30);
    await sleep(TTL * 2.5);
    expect(await left(key, 5000)).toBe(4890);
  });

  it('admits exactly the limit near it: the lease is not taken when the bucket cannot pay for it', async () => {
    const { limiter } = await leased();
    const key = `${prefix()}:edge`;
    const allowed: boolean[] = [];
    for (let i = 0; i < 420; i++) allowed.push((await limiter.decide([hourly(key, 400)], false)).allowed);
    expect(allowed).toEqual([...Array<boolean>(400).fill(true), ...Array<boolean>(20).fill(false)]);
    const refused = await limiter.decide([hourly(key, 400)], false);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterMs).toBeGreaterThan(0);
  });

  it('never admits more than the policy across several gateways sharing Redis, and loses nothing once leases run out', async () => {
    const replicas = (await Promise.all([leased(), leased(), leased()])).map((r) => r.limiter);
    const key = `${prefix()}:fleet`;
    const limit = 250;
    let admitted = 0;
    // Bursts from every replica at once: leases are taken and spent side by side.
    for (let round = 0; round < 6; round++) {
      const outcomes = await Promise.all(replicas.flatMap((r) => Array.from({ length: 10 }, () => r.decide([hourly(key, limit)], false))));
      admitted += outcomes.filter((o) => o.allowed).length;
      expect(admitted).toBeLessThanOrEqual(limit);
    }
    // Whatever the replicas still hold goes back when their leases run out; then the rest can be spent, and no more.
    await sleep(TTL * 2.5);
    for (;;) {
      const outcomes = await Promise.all(replicas.map((r) => r.decide([hourly(key, limit)], false)));
      const n = outcomes.filter((o) => o.allowed).length;
      admitted += n;
      if (n === 0) break;
    }
    await sleep(TTL * 2.5);
    for (const r of replicas) expect((await r.decide([hourly(key, limit)], false)).allowed).toBe(false);
    expect(admitted).toBe(limit);
  });

  it('ends a lease at once when this gateway spends the 404 budget it checked', async () => {
    const { limiter } = await leased();
    const p = prefix();
    const read = hourly(`${p}:read`, 1200);
    const notFound = hourly(`${p}:nf`, 3, 0);
    // 18 requests: leases of 1, 2, 4 and 8 taken, the last one with 2 requests left
    for (let i = 0; i < 18; i++) expect((await limiter.decide([read, notFound], false)).allowed).toBe(true);
    // the prober spends the 404 budget (as the gateway does for each 404 answer)
    for (let i = 0; i < 3; i++) await limiter.charge([{ ...notFound, cost: 1 }]);
    const next = await limiter.decide([read, notFound], false);
    expect(next.allowed).toBe(false);
    // the ended lease's requests went back to the read bucket
    await sleep(50);
    expect(await left(read.key, 1200)).toBe(1182);
  });

  it('gives back what it holds when it closes', async () => {
    const limiter = createLimiter(REDIS_URL, 2000, logger, undefined, { max: 32, ttlMs: 60_000 });
    await limiter.waitReady(5000);
    const key = `${prefix()}:close`;
    for (let i = 0; i < 50; i++) await limiter.decide([hourly(key, 1200)], false);
    expect(await left(key, 1200)).toBeLessThan(1150);
    await limiter.close();
    expect(await left(key, 1200)).toBe(1150);
  });

  it('never leases small budgets (login, generation, writes, the 404 budget): each of those asks Redis', async () => {
    const { limiter, sent: calls } = await leased();
    const key = `${prefix()}:small`;
    calls.length = 0;
    for (let i = 0; i < 12; i++) await limiter.decide([hourly(key, 120)], false);
    expect(calls).toHaveLength(12);
  });

  it('a refund never fills a bucket past full', async () => {
    const key = `${prefix()}:refund`;
    await plain.decide([hourly(key, 10)], false);
    await plain.decide([hourly(key, 10, -5)], false);
    expect(await left(key, 10)).toBe(10);
  });

  it('is configured with whole numbers, refused together in one message otherwise', () => {
    const config = loadGatewayConfig({ NODE_ENV: 'development' });
    expect([config.RATE_LIMIT_LEASE_MAX, config.RATE_LIMIT_LEASE_MS]).toEqual([32, 1000]);
    expect(loadGatewayConfig({ NODE_ENV: 'development', RATE_LIMIT_LEASE_MAX: '0' }).RATE_LIMIT_LEASE_MAX).toBe(0);
    expect(() => loadGatewayConfig({ NODE_ENV: 'development', RATE_LIMIT_LEASE_MAX: '-1', RATE_LIMIT_LEASE_MS: '10' })).toThrow(
      /RATE_LIMIT_LEASE_MAX[\s\S]*RATE_LIMIT_LEASE_MS|RATE_LIMIT_LEASE_MS[\s\S]*RATE_LIMIT_LEASE_MAX/,
    );
  });
});
