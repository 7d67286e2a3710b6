import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sql, type Kysely } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import { QueueEvents } from 'bullmq';
import { createDb, migrateToLatest } from '@imlab/db';
import { createLogger } from '@imlab/logger';
import { createTestDatabase, testPrefix, infra, eventually, TS_NODE_ARGS } from '@imlab/testing';
import { Bus, queueMigrations, type QueueTables, type Worker } from '../src/index.js';

const USER = '0190f5f0-0000-7000-8000-000000000001';
const logger = createLogger({ service: 'test', level: 'silent' });

interface Effects {
  effects: { id: number; message_id: string; amount: number };
}
type DB = QueueTables & Effects;

let dbInfo: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Kysely<DB>;
const buses: Bus[] = [];

function newBus(prefix: string, extra: Partial<ConstructorParameters<typeof Bus>[0]> = {}): Bus {
  const bus = new Bus({ service: 'test', db: db as unknown as Kysely<QueueTables>, databaseUrl: dbInfo.url, redisUrl: infra().redisUrl, prefix, logger, pollMs: 100, ...extra });
  buses.push(bus);
  return bus;
}

async function effectsFor(messageId: string): Promise<number> {
  const r = await sql<{ n: number }>`select count(*)::int as n from effects where message_id = ${messageId}`.execute(db);
  return r.rows[0]!.n;
}

function grantHandler() {
  return {
    'ledger.grant': async ({ tx, payload, message }: { tx: unknown; payload: { amount: number }; message: { id: string } }) => {
      await sql`insert into effects (message_id, amount) values (${message.id}, ${payload.amount})`.execute(tx as Kysely<unknown>);
      return { applied: payload.amount };
    },
  };
}

const grant = (amount: number) => ({ idempotencyKey: `k-${amount}`, userId: USER, amount, source: 'promo' as const, reference: 'test' });

beforeAll(async () => {
  dbInfo = await createTestDatabase('outbox');
  db = createDb<DB>(dbInfo.url, { max: 4 });
  await migrateToLatest(db as unknown as Kysely<unknown>, { extra: queueMigrations });
  await sql`create table effects (id serial primary key, message_id text not null, amount int not null)`.execute(db);
});

afterAll(async () => {
  for (const b of buses) await b.close();
  await db.destroy();
});

describe('transactional outbox and inbox', () => {
  it('delivers a committed message and applies its effect once', async () => {
    const bus = newBus(testPrefix('happy'));
    bus.consume('credits-ledger', grantHandler() as never, { concurrency: 2 });
    await bus.startRelay();
    const id = await db.transaction().execute((tx) => bus.send(tx, 'ledger.grant', grant(5)));
    await eventually(async () => (await effectsFor(id)) === 1);
    const result = await bus.waitForResult('credits-ledger', id, 5000);
    expect(result).toEqual({ timedOut: false, result: { applied: 5 } });
    // its relay would otherwise publish the other tests' rows under this prefix
    await bus.close();
  });

  it('answers the first wait of a process whose job finished before the events reader first read (BullMQ starts it at "$")', async () => {
    const bus = newBus(testPrefix('first-wait'));
    await bus.startRelay();
    // An answer from before this wait is in the events stream already: it must not be taken for this one.
    const earlier = await db.transaction().execute((tx) => bus.send(tx, 'ledger.grant', grant(41)));
    const consumer = bus.consume('credits-ledger', grantHandler() as never, { concurrency: 1 });
    await eventually(async () => (await effectsFor(earlier)) === 1);
    await consumer.close();
    // The new reader's first XREAD is held back (it goes out after a CLIENT SETNAME round trip, so
    // a job can finish in between); meanwhile the wait checks the job (not finished), then the job finishes.
    const id = await db.transaction().execute((tx) => bus.send(tx, 'ledger.grant', grant(42)));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const run = QueueEvents.prototype.run;
    QueueEvents.prototype.run = async function (this: QueueEvents) {
      await gate;
      return run.call(this);
    };
    try {
      const waiting = bus.waitForResult('credits-ledger', id, 4000);
      await new Promise((r) => setTimeout(r, 300));
      const second = bus.consume('credits-ledger', grantHandler() as never, { concurrency: 1 });
      await eventually(async () => (await effectsFor(id)) === 1);
      await eventually(async () => (await bus.queue('credits-ledger').getJobState(id)) === 'completed');
      release();
      expect(await waiting).toEqual({ timedOut: false, result: { applied: 42 } });
      await second.close();
    } finally {
      QueueEvents.prototype.run = run;
      release();
    }
    await bus.close();
  });

  it('publishes nothing for a rolled-back transaction', async () => {
    const bus = newBus(testPrefix('rollback'));
    let id = '';
    await expect(
      db.transaction().execute(async (tx) => {
        id = await bus.send(tx, 'ledger.grant', grant(7));
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    expect(await bus.flush()).toBe(0);
    expect(await bus.queue('credits-ledger').getJob(id)).toBeUndefined();
    const rows = await db.selectFrom('outbox').selectAll().where('id', '=', id).execute();
    expect(rows).toHaveLength(0);
  });

  it('applies the effect once when the relay dies between publishing and marking sent', async () => {
    const prefix = testPrefix('relaycrash');
    const crashing = newBus(prefix);
    crashing.afterPublishHook = () => {
      throw new Error('relay killed');
    };
    const id = await db.transaction().execute((tx) => crashing.send(tx, 'ledger.grant', grant(11)));
    await expect(crashing.flush()).rejects.toThrow('relay killed');
    // the row is still unsent, and the job is already in Redis
    const row = await db.selectFrom('outbox').select('sent_at').where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.sent_at).toBeNull();
    const consumer = newBus(prefix);
    consumer.consume('credits-ledger', grantHandler() as never);
    await eventually(async () => (await effectsFor(id)) === 1);
    // remove the finished job, as retention eventually does, so the re-publish creates a new job
    await consumer.queue('credits-ledger').remove(id);
    const healthy = newBus(prefix);
    expect(await healthy.flush()).toBe(1);
    await eventually(async () => (await consumer.queue('credits-ledger').getJobState(id)) === 'completed');
    expect(await effectsFor(id)).toBe(1);
    const sent = await db.selectFrom('outbox').select('sent_at').where('id', '=', id).executeTakeFirstOrThrow();
    expect(sent.sent_at).not.toBeNull();
  });

  it('ignores the same job delivered twice', async () => {
    const prefix = testPrefix('dupe');
    const bus = newBus(prefix);
    const worker: Worker = bus.consume('credits-ledger', grantHandler() as never);
    const id = uuidv7();
    const envelope = { id, name: 'ledger.grant', payload: grant(3), occurredAt: new Date().toISOString() };
    await bus.queue('credits-ledger').add('ledger.grant', envelope, { jobId: id });
    await eventually(async () => (await bus.queue('credits-ledger').getJobState(id)) === 'completed');
    await bus.queue('credits-ledger').add('ledger.grant', envelope, { jobId: `${id}-again` });
    await eventually(async () => (await bus.queue('credits-ledger').getJobState(`${id}-again`)) === 'completed');
    const again = await bus.queue('credits-ledger').getJob(`${id}-again`);
    expect(again?.returnvalue).toEqual({ applied: 3 });
    expect(await effectsFor(id)).toBe(1);
    expect(worker.isRunning()).toBe(true);
  });

  it('applies the effect once when the consumer crashes after committing but before acknowledging', async () => {
    const prefix = testPrefix('consumercrash');
    const bus = newBus(prefix);
    const id = await db.transaction().execute((tx) => bus.send(tx, 'ledger.grant', grant(13)));
    const script = fileURLToPath(new URL('./fixtures/crash-consumer.ts', import.meta.url));
    const child = spawn(process.execPath, [...TS_NODE_ARGS, script, dbInfo.url, infra().redisUrl, prefix], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await bus.flush();
    expect(await exited).toBe('SIGKILL');
    expect(await effectsFor(id)).toBe(1);
    expect(await bus.queue('credits-ledger').getJobState(id)).toBe('active');
    // a healthy consumer picks the stalled job up; the inbox makes the second delivery a no-op
    bus.consume('credits-ledger', grantHandler() as never, { lockDuration: 1500, stalledInterval: 500 });
    await eventually(async () => (await bus.queue('credits-ledger').getJobState(id)) === 'completed', 20_000);
    expect(await effectsFor(id)).toBe(1);
  });

  it('fails a malformed message with a clear reason and changes nothing', async () => {
    const prefix = testPrefix('malformed');
    const bus = newBus(prefix);
    bus.consume('credits-ledger', grantHandler() as never);
    const id = uuidv7();
    await bus.queue('credits-ledger').add('ledger.grant', { id, name: 'ledger.grant', payload: { ...grant(1), amount: -5 }, occurredAt: new Date().toISOString() }, { jobId: id });
    await eventually(async () => (await bus.queue('credits-ledger').getJobState(id)) === 'failed');
    const job = await bus.queue('credits-ledger').getJob(id);
    expect(job?.failedReason).toMatch(/invalid ledger\.grant payload: \/amount/);
    expect(job?.attemptsMade).toBe(1);
    expect(await effectsFor(id)).toBe(0);
    const inbox = await db.selectFrom('inbox').selectAll().where('message_id', '=', id).execute();
    expect(inbox).toHaveLength(0);
  });

  it('refuses to write a message that breaks its contract', async () => {
    const bus = newBus(testPrefix('contract'));
    await expect(db.transaction().execute((tx) => bus.send(tx, 'ledger.grant', { ...grant(1), userId: 'not-a-uuid' }))).rejects.toMatchObject({
      code: 'CONTRACT_VIOLATION',
    });
  });

  it('removes old finished jobs (and their payloads) from Redis itself, even when the queue has gone quiet', async () => {
    const bus = newBus(testPrefix('prune-jobs'), { completedJobRetentionMs: 0, failedJobRetentionMs: 0 });
    const q = bus.queue('credits-ledger');
    bus.worker('credits-ledger', async ({ message }) => {
      if ((message.payload as { amount: number }).amount === 32) throw new Error('this one fails');
      return { ok: true };
    });
    const done = await q.add('ledger.grant', { id: uuidv7(), name: 'ledger.grant', payload: grant(31), occurredAt: new Date().toISOString() }, { attempts: 1 });
    const failed = await q.add('ledger.grant', { id: uuidv7(), name: 'ledger.grant', payload: grant(32), occurredAt: new Date().toISOString() }, { attempts: 1 });
    await eventually(async () => (await done.getState()) === 'completed' && (await failed.getState()) === 'failed');
    await new Promise((r) => setTimeout(r, 5)); // strictly older than "now" for the clean
    const pruned = await bus.prune();
    expect(pruned.jobs).toBe(2);
    expect(await q.getJob(done.id!)).toBeUndefined();
    expect(await q.getJob(failed.id!)).toBeUndefined();
  });

  it('prunes sent outbox rows and old inbox records, keeping unsent ones and purge receipts', async () => {
    const bus = newBus(testPrefix('prune'));
    const unsent = await db.transaction().execute((tx) => bus.send(tx, 'ledger.grant', grant(21)));
    const sent = await db.transaction().execute((tx) => bus.send(tx, 'ledger.grant', grant(22)));
    await db.updateTable('outbox').set({ sent_at: new Date(Date.now() - 2 * 24 * 3600_000) }).where('id', '=', sent).execute();
    await db.insertInto('inbox').values({ message_id: 'old-message', consumer: 'credits-ledger', name: 'ledger.grant', processed_at: new Date(Date.now() - 20 * 24 * 3600_000) }).execute();
    // a purge's inbox row is the service's deletion receipt (only the deletion id): never pruned
    await db.insertInto('inbox').values({ message_id: 'old-purge', consumer: 'credits-ledger', name: 'user.purge', result: JSON.stringify({ deletionId: '0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee' }), processed_at: new Date(Date.now() - 400 * 24 * 3600_000) }).execute();
    const pruned = await bus.prune();
    expect(pruned.outbox).toBeGreaterThanOrEqual(1);
    expect(pruned.inbox).toBe(1);
    expect(await db.selectFrom('inbox').select('message_id').where('message_id', '=', 'old-purge').execute()).toEqual([{ message_id: 'old-purge' }]);
    expect(await db.selectFrom('outbox').select('id').where('id', 'in', [sent, unsent]).execute()).toEqual([{ id: unsent }]);
    await db.deleteFrom('outbox').where('id', '=', unsent).execute();
  });
});

describe('queue metrics while Redis or Postgres cannot answer', () => {
  it('a scrape neither hangs nor fails: the last values stay and the source is reported unavailable', async () => {
    const { Registry } = await import('prom-client');
    const bus = newBus(testPrefix('metrics-down'));
    const registry = new Registry();
    bus.registerMetrics(registry, ['generation']);
    const healthy = await registry.metrics();
    expect(healthy).toMatch(/imlab_metrics_source_unavailable\{source="redis"\} 0/);
    expect(healthy).toMatch(/imlab_metrics_source_unavailable\{source="postgres"\} 0/);
    expect(healthy).toMatch(/imlab_queue_jobs\{queue="generation",state="waiting"\} \d+/);

    // Redis stalls (a command that never answers) and Postgres refuses (a query that fails).
    const queue = bus.queue('generation');
    const originalCounts = queue.getJobCounts.bind(queue);
    queue.getJobCounts = (() => new Promise(() => undefined)) as typeof queue.getJobCounts;
    const brokenDb = { selectFrom: () => ({ select: () => ({ where: () => ({ executeTakeFirst: () => Promise.reject(new Error('connection refused')) }) }) }) };
    const realDb = (bus as unknown as { opts: { db: unknown } }).opts.db;
    (bus as unknown as { opts: { db: unknown } }).opts.db = brokenDb;
    try {
      const started = Date.now();
      const during = await registry.metrics();
      expect(Date.now() - started).toBeLessThan(3000);
      expect(during).toMatch(/imlab_metrics_source_unavailable\{source="redis"\} 1/);
      expect(during).toMatch(/imlab_metrics_source_unavailable\{source="postgres"\} 1/);
      expect(during).toMatch(/imlab_queue_jobs\{queue="generation",state="waiting"\} \d+/); // the last value
    } finally {
      queue.getJobCounts = originalCounts;
      (bus as unknown as { opts: { db: unknown } }).opts.db = realDb;
    }
  });
});

describe('queue metrics: how long the oldest work has waited', () => {
  it('reports the age of the oldest unsent outbox row and of the oldest job waiting in each queue', async () => {
    const { Registry } = await import('prom-client');
    const bus = newBus(testPrefix('metrics-age'));
    const registry = new Registry();
    bus.registerMetrics(registry, ['generation', 'billing']);
    const value = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);

    // Nothing waits in this prefix's queues yet.
    const idle = await registry.metrics();
    expect(value(idle, 'imlab_queue_oldest_waiting_age_seconds{queue="generation"}')).toBe(0);

    // An outbox row the relay (not started) has not published for 90 s, a job created 2 minutes ago.
    const id = await db.transaction().execute((tx) => bus.send(tx, 'ledger.grant', grant(31)));
    await db.updateTable('outbox').set({ created_at: new Date(Date.now() - 90_000) }).where('id', '=', id).execute();
    await bus.queue('generation').add('probe', {}, { timestamp: Date.now() - 120_000 });
    try {
      const text = await registry.metrics();
      expect(value(text, 'imlab_outbox_oldest_unsent_age_seconds')).toBeGreaterThanOrEqual(90);
      expect(value(text, 'imlab_outbox_unsent_messages')).toBeGreaterThanOrEqual(1);
      const age = value(text, 'imlab_queue_oldest_waiting_age_seconds{queue="generation"}');
      expect(age).toBeGreaterThanOrEqual(120);
      expect(age).toBeLessThan(180);
      expect(value(text, 'imlab_queue_oldest_waiting_age_seconds{queue="billing"}')).toBe(0);
    } finally {
      await db.deleteFrom('outbox').where('id', '=', id).execute();
      await bus.queue('generation').obliterate({ force: true });
    }
  });
});

describe('trace context through the outbox', () => {
  it('a message sent in a trace is handled in it (a span of its own), and what the handler sends stays in it', async () => {
    const { withTrace, parseTraceparent, currentTrace } = await import('@imlab/http');
    const bus = newBus(testPrefix('trace'));
    const seen: { traceId?: string; spanId?: string }[] = [];
    bus.consume(
      'credits-ledger',
      {
        'ledger.grant': async ({ tx, payload, message }: { tx: unknown; payload: { amount: number }; message: { id: string } }) => {
          seen.push({ ...currentTrace() });
          await sql`insert into effects (message_id, amount) values (${message.id}, ${payload.amount})`.execute(tx as Kysely<unknown>);
          return {};
        },
      } as never,
      { concurrency: 1 },
    );
    await bus.startRelay();
    const origin = parseTraceparent('00-11112222333344445555666677778888-1111222233334444-01')!;
    const id = await withTrace(origin, () => db.transaction().execute((tx) => bus.send(tx, 'ledger.grant', grant(41), { requestId: 'req-41' })));
    await eventually(async () => (await effectsFor(id)) === 1);
    expect(seen[0]?.traceId).toBe('11112222333344445555666677778888');
    expect(seen[0]?.spanId).not.toBe('1111222233334444');
    const job = await bus.queue('credits-ledger').getJob(id);
    expect(job?.data).toMatchObject({ requestId: 'req-41', traceparent: '00-11112222333344445555666677778888-1111222233334444-01' });
    // outside any trace: no traceparent, the request id alone as before
    const plain = await db.transaction().execute((tx) => bus.send(tx, 'ledger.grant', grant(42), { requestId: 'req-42' }));
    await eventually(async () => (await effectsFor(plain)) === 1);
    const plainJob = await bus.queue('credits-ledger').getJob(plain);
    expect(plainJob?.data.requestId).toBe('req-42');
    expect(plainJob?.data.traceparent).toBeUndefined();
    expect(seen[1]?.traceId).toMatch(/^[0-9a-f]{32}$/); // the consumer starts one
    await bus.close();
  });
});
