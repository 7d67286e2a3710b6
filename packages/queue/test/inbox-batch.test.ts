import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sql, type Generated, type Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { Job } from 'bullmq';
import { createDb, migrateToLatest } from '@imlab/db';
import { createLogger } from '@imlab/logger';
import { AppError } from '@imlab/http';
import { createTestDatabase, testPrefix, infra, eventually, TS_NODE_ARGS } from '@imlab/testing';
import { Bus, queueMigrations, withGroup, type Envelope, type Handlers, type QueueTables } from '../src/index.js';
import { Inbox } from '../src/inbox.js';

// Group commit in the inbox (ConsumeOptions.batch): messages that arrive while a transaction runs
// share the next one. Each must still take effect exactly once, a failing one must fail alone, and
// a consumer killed inside a group must leave nothing of it behind.
const USER = '0190f5f0-0000-7000-8000-000000000002';
const logger = createLogger({ service: 'test', level: 'silent' });

interface Effects {
  effects: { id: Generated<number>; message_id: string; amount: number };
}
type DB = QueueTables & Effects;

let dbInfo: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Kysely<DB>;
const buses: Bus<DB>[] = [];

const grant = (amount: number) => ({ idempotencyKey: `k-${amount}-${uuidv7()}`, userId: USER, amount, source: 'promo' as const, reference: 'test' });
const envelope = (amount: number, id = uuidv7()): Envelope<'ledger.grant'> => ({ id, name: 'ledger.grant', payload: grant(amount), occurredAt: new Date().toISOString() });

/** Applies a grant as one effects row; amount 13 is refused (a permanent failure of that message alone). */
const handlers: Handlers<DB> = {
  'ledger.grant': async ({ tx, payload, message }) => {
    await tx.insertInto('effects').values({ message_id: message.id, amount: payload.amount }).execute();
    if (payload.amount === 13) throw new AppError('VALIDATION_FAILED', { message: 'thirteen is refused', retryable: false });
    return { applied: payload.amount };
  },
};

async function effectsOf(ids: string[]): Promise<{ message_id: string; xmin: string }[]> {
  return (await sql<{ message_id: string; xmin: string }>`select message_id, xmin::text as xmin from effects where message_id = any(${ids})`.execute(db)).rows;
}

beforeAll(async () => {
  dbInfo = await createTestDatabase('inboxbatch');
  db = createDb<DB>(dbInfo.url, { max: 6 });
  await migrateToLatest(db as unknown as Kysely<unknown>, { extra: queueMigrations });
  await sql`create table effects (id serial primary key, message_id text not null, amount int not null)`.execute(db);
});

afterAll(async () => {
  for (const b of buses) await b.close();
  await db.destroy();
});

describe('group commit in the inbox', () => {
  it('applies messages that arrive together in one transaction, each once, with its own result', async () => {
    const inbox = new Inbox<DB>({ db, queue: 'credits-ledger', handlers, batch: { max: 64, lanes: 1 }, onSent: () => {} });
    const messages = Array.from({ length: 12 }, (_, i) => envelope(100 + i));
    const results = await Promise.all(messages.map((message) => inbox.process({ message, log: logger, job: {} as Job })));
    expect(results).toEqual(messages.map((m) => ({ applied: m.payload.amount })));
    const rows = await effectsOf(messages.map((m) => m.id));
    expect(rows).toHaveLength(12);
    // the first starts at once on its own; the eleven that arrived meanwhile share the next transaction
    expect(new Set(rows.map((r) => r.xmin)).size).toBe(2);
    const stored = await db.selectFrom('inbox').select(['message_id', 'result']).where('message_id', 'in', messages.map((m) => m.id)).execute();
    expect(new Map(stored.map((r) => [r.message_id, r.result]))).toEqual(new Map(messages.map((m) => [m.id, { applied: m.payload.amount }])));

    // delivered again (one already known, one twice in the same group): the stored results, no second effect
    const again = [messages[3]!, envelope(200), messages[5]!, messages[5]!];
    const second = await Promise.all([envelope(199), ...again].map((message) => inbox.process({ message, log: logger, job: {} as Job })));
    expect(second.slice(1)).toEqual([{ applied: 103 }, { applied: 200 }, { applied: 105 }, { applied: 105 }]);
    expect(await effectsOf([messages[3]!.id, messages[5]!.id])).toHaveLength(2);
  });

  it('rolls a group back when one of its messages fails, and then only that message fails', async () => {
    const inbox = new Inbox<DB>({ db, queue: 'credits-ledger', handlers, batch: { max: 64, lanes: 1 }, onSent: () => {} });
    const messages = [envelope(300), envelope(301), envelope(13), envelope(302), envelope(303)];
    const settled = await Promise.allSettled(messages.map((message) => inbox.process({ message, log: logger, job: {} as Job })));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((settled[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'VALIDATION_FAILED' });
    const rows = await effectsOf(messages.map((m) => m.id));
    expect(rows.map((r) => r.message_id).sort()).toEqual([messages[0]!, messages[1]!, messages[3]!, messages[4]!].map((m) => m.id).sort());
    // the refused one left no inbox record either: a retry would run it again
    expect(await db.selectFrom('inbox').select('message_id').where('message_id', '=', messages[2]!.id).execute()).toEqual([]);
  });

  it('hands each run of one name to its group handler in one call; seen and repeated messages keep their one result', async () => {
    const calls: number[] = [];
    const grouped: Handlers<DB> = {
      'ledger.grant': withGroup(handlers['ledger.grant']!, async ({ tx, items }) => {
        calls.push(items.length);
        await tx.insertInto('effects').values(items.map((i) => ({ message_id: i.message.id, amount: i.payload.amount }))).execute();
        if (items.some((i) => i.payload.amount === 13)) throw new AppError('VALIDATION_FAILED', { message: 'thirteen is refused', retryable: false });
        return items.map((i) => ({ applied: i.payload.amount, together: items.length }));
      }),
      'ledger.release': async ({ tx, message }) => {
        await tx.insertInto('effects').values({ message_id: message.id, amount: 0 }).execute();
        return { released: true };
      },
    };
    const inbox = new Inbox<DB>({ db, queue: 'credits-ledger', handlers: grouped, batch: { max: 64, lanes: 1 }, onSent: () => {} });
    const process = (message: Envelope) => inbox.process({ message, log: logger, job: {} as Job });
    const known = envelope(700);
    expect(await process(known)).toEqual({ applied: 700 }); // alone: the one-message handler
    const idle = () => new Promise((resolve) => setImmediate(resolve)); // the lane is free again
    await idle();
    const release: Envelope<'ledger.release'> = { id: uuidv7(), name: 'ledger.release', payload: { holdId: uuidv7(), reason: 'test' }, occurredAt: new Date().toISOString() };
    const [a, b, c, d] = [envelope(702), envelope(703), envelope(704), envelope(705)];
    // the first runs alone; the rest arrive meanwhile and share the next transaction
    const results = await Promise.all([envelope(701), a, b, known, a, release, c, d].map(process));
    expect(results).toEqual([
      { applied: 701 },
      { applied: 702, together: 2 },
      { applied: 703, together: 2 },
      { applied: 700 },
      { applied: 702, together: 2 },
      { released: true },
      { applied: 704, together: 2 },
      { applied: 705, together: 2 },
    ]);
    // two runs of grants (split by the release), each one call with each new message once
    expect(calls).toEqual([2, 2]);
    expect((await effectsOf([known, a, b, release, c, d].map((m) => m.id))).map((r) => r.message_id).sort()).toEqual([known, a, b, release, c, d].map((m) => m.id).sort());

    // a run that fails rolls its group back; then each message runs alone and only the failing one fails
    calls.length = 0;
    await idle();
    const failing = [envelope(706), envelope(707), envelope(13), envelope(708)];
    const settled = await Promise.allSettled([envelope(709), ...failing].map(process));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(calls).toEqual([4]);
    expect((await effectsOf(failing.map((m) => m.id))).map((r) => r.message_id).sort()).toEqual([failing[0]!, failing[1]!, failing[3]!].map((m) => m.id).sort());
  });

  it('through BullMQ: a burst is applied in fewer transactions than messages, each message once, and the relay carries what the handlers sent', async () => {
    const bus = new Bus<DB>({ service: 'test', db, databaseUrl: dbInfo.url, redisUrl: infra().redisUrl, prefix: testPrefix('batchbus'), logger, pollMs: 60_000 });
    buses.push(bus);
    const sentOn: string[] = [];
    bus.consume(
      'credits-ledger',
      {
        'ledger.grant': async (ctx) => {
          await handlers['ledger.grant']!(ctx);
          // an event sent from inside the group: published right after the commit, not at the next poll
          await bus.send(ctx.tx, 'ledger.low-balance', { userId: USER, available: ctx.payload.amount, threshold: 1000 });
          sentOn.push(ctx.message.id);
          return { applied: ctx.payload.amount };
        },
      },
      { concurrency: 16, batch: { max: 16 } },
    );
    await bus.startRelay();
    const ids = await db.transaction().execute(async (tx) => Promise.all(Array.from({ length: 40 }, (_, i) => bus.send(tx, 'ledger.grant', grant(400 + i)))));
    bus.kick();
    await eventually(async () => (await effectsOf(ids)).length === 40, 20_000);
    const rows = await effectsOf(ids);
    expect(new Set(rows.map((r) => r.message_id)).size).toBe(40);
    expect(new Set(rows.map((r) => r.xmin)).size).toBeLessThan(40);
    // the low-balance events went out without waiting for the minute-long poll
    await eventually(async () => Number((await sql<{ n: string }>`select count(*) as n from outbox where name = 'ledger.low-balance' and sent_at is null`.execute(db)).rows[0]!.n) === 0, 5000);
    expect(sentOn).toHaveLength(40);
    await bus.close();
  });

  it('two lanes whose groups lock the same rows in opposite orders: deadlocks roll groups back, and every message still takes effect once', async () => {
    await sql`create table if not exists counters (id int primary key, n int not null)`.execute(db);
    await sql`insert into counters values (1, 0), (2, 0) on conflict (id) do update set n = 0`.execute(db);
    const bus = new Bus<DB>({ service: 'test', db, databaseUrl: dbInfo.url, redisUrl: infra().redisUrl, prefix: testPrefix('lanes'), logger, pollMs: 60_000 });
    buses.push(bus);
    bus.consume(
      'credits-ledger',
      {
        'ledger.grant': async (ctx) => {
          // odd amounts lock counter 1 then 2, even ones 2 then 1: two groups at once can deadlock
          const [first, second] = ctx.payload.amount % 2 ? [1, 2] : [2, 1];
          await sql`update counters set n = n + 1 where id = ${first}`.execute(ctx.tx);
          await sql`select pg_sleep(0.005)`.execute(ctx.tx);
          await sql`update counters set n = n + 1 where id = ${second}`.execute(ctx.tx);
          await ctx.tx.insertInto('effects').values({ message_id: ctx.message.id, amount: ctx.payload.amount }).execute();
          return { applied: ctx.payload.amount };
        },
      },
      { concurrency: 16, batch: { max: 4, lanes: 2 } },
    );
    await bus.startRelay();
    const ids = await db.transaction().execute(async (tx) => Promise.all(Array.from({ length: 40 }, (_, i) => bus.send(tx, 'ledger.grant', grant(600 + i)))));
    bus.kick();
    await eventually(async () => (await effectsOf(ids)).length === 40, 45_000, 100);
    expect(new Set((await effectsOf(ids)).map((r) => r.message_id)).size).toBe(40);
    // each message updated both counters exactly once
    expect((await sql<{ n: number }>`select n from counters order by id`.execute(db)).rows.map((r) => r.n)).toEqual([40, 40]);
    await bus.close();
  }, 60_000);

  it('a consumer killed inside a group leaves none of it, and each of its messages is then applied once', async () => {
    const prefix = testPrefix('groupcrash');
    const bus = new Bus<DB>({ service: 'test', db, databaseUrl: dbInfo.url, redisUrl: infra().redisUrl, prefix, logger, pollMs: 60_000 });
    buses.push(bus);
    const script = fileURLToPath(new URL('./fixtures/crash-consumer.ts', import.meta.url));
    const child = spawn(process.execPath, [...TS_NODE_ARGS, script, dbInfo.url, infra().redisUrl, prefix, 'inside-group'], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await eventually(() => out.includes('ready'), 20_000);
    const ids = await db.transaction().execute(async (tx) => Promise.all(Array.from({ length: 8 }, (_, i) => bus.send(tx, 'ledger.grant', grant(500 + i)))));
    await bus.flush();
    // The child commits a lone message as usual and kills itself inside the first group of several.
    expect(await exited).toBe('SIGKILL');
    const size = Number(/IN_GROUP (\d+)/.exec(out)?.[1]);
    expect(size).toBeGreaterThan(1);
    const before = await effectsOf(ids);
    expect(before.length).toBeLessThanOrEqual(ids.length - size);
    const inboxBefore = await db.selectFrom('inbox').select('message_id').where('message_id', 'in', ids).execute();
    expect(inboxBefore.map((r) => r.message_id).sort()).toEqual(before.map((r) => r.message_id).sort());
    // a healthy batched consumer takes the stalled jobs over; every message takes effect exactly once
    bus.consume('credits-ledger', handlers, { lockDuration: 1500, stalledInterval: 500, concurrency: 8, batch: { max: 8 } });
    await eventually(async () => (await effectsOf(ids)).length === ids.length, 30_000, 100);
    const after = await effectsOf(ids);
    expect(new Set(after.map((r) => r.message_id)).size).toBe(ids.length);
    await eventually(async () => (await Promise.all(ids.map((id) => bus.queue('credits-ledger').getJobState(id)))).every((s) => s === 'completed'), 20_000);
  }, 60_000);
});
