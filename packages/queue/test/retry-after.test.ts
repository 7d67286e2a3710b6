import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kysely, Transaction } from 'kysely';
import { createDb, migrateToLatest } from '@imlab/db';
import { AppError } from '@imlab/http';
import { createLogger } from '@imlab/logger';
import { createTestDatabase, testPrefix, infra, eventually } from '@imlab/testing';
import { isPersistent, type QueueName } from '@imlab/contracts';
import type { JobsOptions } from 'bullmq';
import { Bus, PERSISTENT_BACKOFF_CAP_MS, cappedBackoff, MAX_DEFER_STEP_MS, MAX_RETRY_AFTER_MS, deferOf, notYet, queueMigrations, retryAfterFromHeaders, retryAfterOf, type QueueTables } from '../src/index.js';

const USER = '0190f5f0-0000-7000-8000-000000000002';
const logger = createLogger({ service: 'test', level: 'silent' });
let dbInfo: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Kysely<QueueTables>;
const buses: Bus[] = [];

function newBus(prefix: string): Bus {
  const bus = new Bus({ service: 'test', db, redisUrl: infra().redisUrl, prefix, logger, pollMs: 100 });
  buses.push(bus);
  return bus;
}

/** An error the way a provider adapter throws it: retryable, with the advertised wait. */
class RateLimited extends Error {
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number) {
    super('provider answered 429');
    this.retryAfterMs = retryAfterMs;
  }
}

const grant = (key: string) => ({ idempotencyKey: key, userId: USER, amount: 1, source: 'promo' as const, reference: 'test' });

/** Publishes one message and returns when each processor call started. */
async function run(bus: Bus, key: string, fail: (call: number) => Error | undefined) {
  const calls: number[] = [];
  bus.worker('credits-ledger', async () => {
    calls.push(Date.now());
    const err = fail(calls.length);
    if (err) throw err;
    return { ok: true };
  });
  const id = await db.transaction().execute((tx) => bus.send(tx, 'ledger.grant', grant(key)));
  await bus.flush();
  return { id, calls };
}

beforeAll(async () => {
  dbInfo = await createTestDatabase('retryafter');
  db = createDb<QueueTables>(dbInfo.url, { max: 2 });
  await migrateToLatest(db as unknown as Kysely<unknown>, { extra: queueMigrations });
});

afterAll(async () => {
  for (const b of buses) await b.close();
  await db?.destroy();
  await dbInfo?.drop();
});

describe('retryAfterOf', () => {
  it('reads retryAfterMs from the error or its cause chain, caps it, and ignores nonsense', () => {
    expect(retryAfterOf(new RateLimited(1500))).toBe(1500);
    expect(retryAfterOf(new AppError('SERVICE_UNAVAILABLE', { message: 'busy', cause: new RateLimited(2000) }))).toBe(2000);
    expect(retryAfterOf(new RateLimited(3 * 3600_000))).toBe(MAX_RETRY_AFTER_MS);
    expect(retryAfterOf(new RateLimited(5000), 800)).toBe(800);
    expect(retryAfterOf(new RateLimited(Number.NaN))).toBeUndefined();
    expect(retryAfterOf(new RateLimited(-1))).toBeUndefined();
    expect(retryAfterOf(new Error('plain'))).toBeUndefined();
    expect(retryAfterOf(undefined)).toBeUndefined();
  });
});

describe('retryAfterFromHeaders', () => {
  it('reads retry-after-ms first, then retry-after as seconds or an HTTP date', () => {
    expect(retryAfterFromHeaders(new Headers({ 'retry-after-ms': '1250', 'retry-after': '9' }))).toBe(1250);
    expect(retryAfterFromHeaders(new Headers({ 'Retry-After': '2' }))).toBe(2000);
    expect(retryAfterFromHeaders({ 'retry-after': '1.5' })).toBe(1500);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterFromHeaders({ 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }, now)).toBe(30_000);
    expect(retryAfterFromHeaders({ 'retry-after': 'Wed, 31 Dec 2025 23:00:00 GMT' }, now)).toBe(0);
    expect(retryAfterFromHeaders({ 'retry-after': 'soon' })).toBeUndefined();
    expect(retryAfterFromHeaders({ 'retry-after-ms': '-5' })).toBeUndefined();
    expect(retryAfterFromHeaders({})).toBeUndefined();
    expect(retryAfterFromHeaders(null)).toBeUndefined();
  });
});

describe('Bus.worker honours a Retry-After carried by the error', () => {
  it('waits at least the advertised time (not the 500 ms first backoff), then succeeds once', async () => {
    const bus = newBus(testPrefix('ra-wait'));
    const { id, calls } = await run(bus, 'ra-wait', (n) => (n === 1 ? new RateLimited(1800) : undefined));
    const job = () => bus.queue('credits-ledger').getJob(id);
    await eventually(async () => (await (await job())?.getState()) === 'completed', 10_000);
    expect(calls).toHaveLength(2);
    const waited = calls[1]! - calls[0]!;
    expect(waited).toBeGreaterThanOrEqual(1800);
    expect(waited).toBeLessThan(1800 + 2500);
    expect((await job())!.attemptsMade).toBe(2); // the 429 counted as an attempt, then the success
  });

  it('the wait is bounded: an advertised hour becomes maxRetryAfterMs', async () => {
    const bus = newBus(testPrefix('ra-cap'));
    const calls: number[] = [];
    bus.worker(
      'credits-ledger',
      async () => {
        calls.push(Date.now());
        if (calls.length === 1) throw new RateLimited(3600_000);
        return { ok: true };
      },
      { maxRetryAfterMs: 700 },
    );
    const id = await db.transaction().execute((tx) => bus.send(tx, 'ledger.grant', grant('ra-cap')));
    await bus.flush();
    await eventually(async () => (await (await bus.queue('credits-ledger').getJob(id))?.getState()) === 'completed', 10_000);
    expect(calls).toHaveLength(2);
    expect(calls[1]! - calls[0]!).toBeGreaterThanOrEqual(700);
    expect(calls[1]! - calls[0]!).toBeLessThan(700 + 2500);
  });

  it('keeps the attempt limit: a provider that always asks to wait fails after the allowed attempts', async () => {
    const bus = newBus(testPrefix('ra-limit'));
    const calls: number[] = [];
    bus.worker('credits-ledger', async () => {
      calls.push(Date.now());
      throw new RateLimited(200);
    });
    const q = bus.queue('credits-ledger');
    const id = 'ra-limit-job';
    await q.add('ledger.grant', { id, name: 'ledger.grant', payload: grant('ra-limit'), occurredAt: new Date().toISOString() }, { jobId: id, attempts: 3 });
    await eventually(async () => (await (await q.getJob(id))?.getState()) === 'failed', 10_000);
    expect(calls).toHaveLength(3);
    expect((await q.getJob(id))!.attemptsMade).toBe(3);
    for (let i = 1; i < calls.length; i++) expect(calls[i]! - calls[i - 1]!).toBeGreaterThanOrEqual(200);
  });

  it('without retryAfterMs the default exponential backoff still applies', async () => {
    const bus = newBus(testPrefix('ra-default'));
    const { id, calls } = await run(bus, 'ra-default', (n) => (n === 1 ? new Error('plain failure') : undefined));
    await eventually(async () => (await (await bus.queue('credits-ledger').getJob(id))?.getState()) === 'completed', 10_000);
    const waited = calls[1]! - calls[0]!;
    expect(waited).toBeGreaterThanOrEqual(500);
    expect(waited).toBeLessThan(500 + 3000);
  });
});

describe('a handler that says "not yet" (notYet)', () => {
  it('asks for at least its own wait, more as the message ages, never more than the step cap; other errors ask nothing', () => {
    expect(deferOf(notYet(new Error('waits'), 250), 0)).toBe(250);
    expect(deferOf(notYet(new Error('waits'), 250), 8000)).toBe(2000);
    expect(deferOf(notYet(new Error('waits'), 250), 3600_000)).toBe(MAX_DEFER_STEP_MS);
    expect(deferOf(new RateLimited(100), 0)).toBeUndefined();
    expect(deferOf(new Error('plain'), 0)).toBeUndefined();
    expect(deferOf(notYet(new Error('nonsense'), Number.NaN), 0)).toBeUndefined();
  });

  it('is run again without spending attempts: waiting longer than the attempt limit allows still ends in success', async () => {
    const bus = newBus(testPrefix('ny-wait'));
    const calls: number[] = [];
    bus.worker('credits-ledger', async () => {
      calls.push(Date.now());
      if (calls.length <= 5) throw notYet(new AppError('LEDGER_POSTING_OUT_OF_ORDER', { message: 'predecessor missing', retryable: true }), 50);
      return { ok: true };
    });
    const q = bus.queue('credits-ledger');
    const id = 'ny-wait-job';
    await q.add('ledger.grant', { id, name: 'ledger.grant', payload: grant('ny-wait'), occurredAt: new Date().toISOString() }, { jobId: id, attempts: 2 });
    await eventually(async () => (await (await q.getJob(id))?.getState()) === 'completed', 10_000);
    expect(calls).toHaveLength(6);
    for (let i = 1; i < calls.length; i++) expect(calls[i]! - calls[i - 1]!).toBeGreaterThanOrEqual(45);
    expect((await q.getJob(id))!.attemptsMade).toBeLessThanOrEqual(1);
    expect((await q.getJob(id))!.returnvalue).toEqual({ ok: true });
  });

  it('waits count as failed attempts once the message is older than maxDeferMs, so it cannot wait forever', async () => {
    const bus = newBus(testPrefix('ny-limit'));
    const calls: number[] = [];
    bus.worker(
      'credits-ledger',
      async () => {
        calls.push(Date.now());
        throw notYet(new AppError('LEDGER_POSTING_OUT_OF_ORDER', { message: 'predecessor never comes', retryable: true }), 50);
      },
      { maxDeferMs: 1000 },
    );
    const q = bus.queue('credits-ledger');
    const id = 'ny-limit-job';
    const old = new Date(Date.now() - 5000).toISOString();
    await q.add('ledger.grant', { id, name: 'ledger.grant', payload: grant('ny-limit'), occurredAt: old }, { jobId: id, attempts: 2, backoff: { type: 'fixed', delay: 50 } });
    await eventually(async () => (await (await q.getJob(id))?.getState()) === 'failed', 10_000);
    expect(calls).toHaveLength(2);
    expect((await q.getJob(id))!.attemptsMade).toBe(2);
  });
});

const PERSISTENT = { attempts: 1900, backoff: { type: 'capped', delay: 500 } };

/** The id and options a message goes out with from the outbox (its job is removed after). */
async function relayed(bus: Bus, queue: QueueName, send: (tx: Transaction<QueueTables>) => Promise<string>): Promise<{ id: string; opts: JobsOptions }> {
  const id = await db.transaction().execute(send);
  await bus.flush();
  const job = (await bus.queue(queue).getJob(id))!;
  const opts = job.opts;
  await job.remove();
  return { id, opts };
}

describe('persistent messages (user.purge, money commands) are not given up after the usual attempts', () => {
  it('back off exponentially up to 15 minutes, for about 20 days in all', () => {
    const opts = { opts: { backoff: { type: 'capped', delay: 500 } } };
    expect([1, 2, 3].map((n) => cappedBackoff(n, 'capped', undefined, opts))).toEqual([500, 1000, 2000]);
    expect(cappedBackoff(40, 'capped', undefined, opts)).toBe(PERSISTENT_BACKOFF_CAP_MS);
    let total = 0;
    for (let n = 1; n < 1900; n++) total += cappedBackoff(n, 'capped', undefined, opts);
    expect(total / 86_400_000).toBeGreaterThan(19);
    expect(total / 86_400_000).toBeLessThan(21);
  });

  it('include every command that moves credits and the events money depends on; a capture goes out persistent', async () => {
    const money = ['ledger.grant', 'ledger.reserve', 'ledger.capture', 'ledger.release', 'ledger.clawback', 'ledger.restore', 'ledger.grant-refused', 'ledger.posted', 'billing.stripe-event', 'billing.refund-orphaned-order'] as const;
    expect(money.filter((n) => !isPersistent(n))).toEqual([]);
    // and the privacy messages whose loss would keep a person's data or images public
    expect(['user.purge', 'user.deletion-requested'].filter((n) => !isPersistent(n as never))).toEqual([]);
    expect(isPersistent('email.send')).toBe(false); // a sign-in link days late helps nobody
    const bus = newBus(testPrefix('persistent-capture'));
    expect((await relayed(bus, 'credits-ledger', (tx) => bus.send(tx, 'ledger.capture', { holdId: USER }))).opts).toMatchObject(PERSISTENT);
    const email = (await relayed(bus, 'notification', (tx) => bus.send(tx, 'email.send', { template: 'verify-email', to: 'a@example.test', data: {}, idempotencyKey: 'k' }))).opts;
    expect(email.attempts).toBe(8);
    expect(email.backoff).toMatchObject({ type: 'exponential' });
  });

  it('go out with those options from the outbox, and a consumer failing more often than 8 times still ends in success', async () => {
    const bus = newBus(testPrefix('persistent'));
    const { id, opts } = await relayed(bus, 'generation', (tx) => bus.send(tx, 'user.purge', { userId: USER }));
    expect(opts).toMatchObject(PERSISTENT);
    // Waiting out ten real backoffs takes minutes: the same message with a 1 ms base shows the
    // worker applies the capped strategy past the default attempt limit.
    const calls: number[] = [];
    bus.worker('generation', async () => {
      calls.push(Date.now());
      if (calls.length <= 10) throw new Error('storage is down');
      return { purged: true };
    });
    const fast = await bus.queue('generation').add('user.purge', { id: `${id}-fast`, name: 'user.purge', payload: { userId: USER }, occurredAt: new Date().toISOString() }, { jobId: `${id}-fast`, attempts: 1900, backoff: { type: 'capped', delay: 1 } });
    await eventually(async () => (await fast.getState()) === 'completed', 20_000);
    expect(calls.length).toBeGreaterThanOrEqual(11);
  });
});
