import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kysely } from 'kysely';
import { createDb, migrateToLatest } from '@imlab/db';
import { createLogger } from '@imlab/logger';
import { createTestDatabase, testPrefix, infra, eventually } from '@imlab/testing';
import { Bus, queueMigrations, type QueueTables } from '../src/index.js';

const USER = '0190f5f0-0000-7000-8000-000000000003';
const logger = createLogger({ service: 'test', level: 'silent' });
let dbInfo: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Kysely<QueueTables>;
let bus: Bus;
let release: () => void = () => undefined;

beforeAll(async () => {
  dbInfo = await createTestDatabase('stopconsuming');
  db = createDb<QueueTables>(dbInfo.url, { max: 2 });
  await migrateToLatest(db as unknown as Kysely<unknown>, { extra: queueMigrations });
  bus = new Bus({ service: 'test', db, redisUrl: infra().redisUrl, prefix: testPrefix('stopconsuming'), logger, pollMs: 100 });
});

afterAll(async () => {
  release();
  await bus?.close();
  await db?.destroy();
  await dbInfo?.drop();
});

const grant = (key: string) => ({ idempotencyKey: key, userId: USER, amount: 1, source: 'promo' as const, reference: 'test' });

describe('stopConsuming (the start of a shutdown)', () => {
  it('lets the running job finish, starts no new one, and the relay still publishes what requests write meanwhile', { timeout: 90_000 }, async () => {
    const started: string[] = [];
    const finished: string[] = [];
    bus.worker('credits-ledger', async ({ message }) => {
      const key = (message.payload as { idempotencyKey: string }).idempotencyKey;
      started.push(key);
      if (key === 'running') await new Promise<void>((r) => (release = r));
      finished.push(key);
      return { ok: true };
    });
    await bus.startRelay();
    await db.transaction().execute((tx) => bus.send(tx, 'ledger.grant', grant('running')));
    await bus.flush();
    await eventually(() => started.includes('running'), 30_000);

    let stopped = false;
    const stopping = bus.stopConsuming().then(() => (stopped = true));
    // a request still in flight writes a message after intake stopped: it is published, not run
    const late = await db.transaction().execute((tx) => bus.send(tx, 'ledger.grant', grant('late')));
    await bus.flush();
    await eventually(async () => (await bus.queue('credits-ledger').getJobState(late)) === 'waiting', 30_000);
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(finished).toEqual(['running']);
    await new Promise((r) => setTimeout(r, 300));
    expect(started).toEqual(['running']);
    expect(await bus.queue('credits-ledger').getJobState(late)).toBe('waiting');
  });
});
