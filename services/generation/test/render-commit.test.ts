import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { access, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { Registry } from 'prom-client';
import type { Kysely } from '@imlab/db';
import { createLogger } from '@imlab/logger';
import type { Job } from '@imlab/queue';
import { eventually } from '@imlab/testing';
import type { DB } from '../src/db.js';
import { createMetrics } from '../src/metrics.js';
import { StatusEvents } from '../src/generations/status-events.js';
import { createStorage } from '../src/storage/storage.js';
import { createProvider } from '../src/render/providers/index.js';
import { RenderService } from '../src/render/render.service.js';
import { startHarness, type Harness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('render_commit');
});
afterAll(async () => h?.close());

/**
 * The database as the render sees it when the connection drops during COMMIT: the `nth`
 * transaction commits, and then the caller gets an error anyway.
 */
function commitAnswerLost(db: Kysely<DB>, nth: number, before?: () => Promise<void>, commit = true): Kysely<DB> {
  let count = 0;
  return new Proxy(db, {
    get(target, prop) {
      if (prop !== 'transaction') {
        const value: unknown = Reflect.get(target, prop);
        // Kysely keeps private fields: its methods must run on the real instance.
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return () => {
        const builder = target.transaction();
        return {
          execute: async <T>(fn: Parameters<typeof builder.execute<T>>[0]) => {
            if (++count !== nth) return builder.execute(fn);
            await before?.();
            if (commit) await builder.execute(fn);
            throw new Error('Connection terminated unexpectedly');
          },
        };
      };
    },
  });
}

const logger = createLogger({ service: 'generation-worker', level: 'silent' });
const job = (attemptsMade = 0) => ({ attemptsMade, opts: { attempts: 4 } }) as unknown as Job;
const openEvents: StatusEvents[] = [];
afterAll(async () => {
  for (const e of openEvents) await e.close();
});

/** The render worker's service, on the harness's database (or a stand-in for it), in this process. */
function renderOn(db: Kysely<DB>): RenderService {
  const events = new StatusEvents(h.ctx.bus.redis, h.ctx.bus.prefix);
  openEvents.push(events);
  return new RenderService({ db, bus: h.ctx.bus, config: h.config, events, metrics: createMetrics(new Registry()), storage: createStorage(h.config), provider: createProvider(h.config), logger });
}

describe('render whose success commit answers with an error', () => {
  it('keeps the images of a generation that did commit: charged once, nothing deleted, nothing re-rendered', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const created = await h.api('POST', '/v1/generations', { user, body: { prompt: 'commit answer lost', model: 'imlab-draft' } });
    expect(created.body.status).toBe('queued');

    // Transaction 1 claims the job, transaction 2 is the success (images + capture).
    const outcome = await renderOn(commitAnswerLost(h.ctx.db, 2)).process(created.body.id, job(), undefined, logger);
    expect(outcome).toMatchObject({ status: 'succeeded' });

    const g = await h.api('GET', `/v1/generations/${created.body.id}`, { user });
    expect(g.body.status).toBe('succeeded');
    expect(g.body.images).toHaveLength(1);
    const rows = await h.ctx.db.selectFrom('images').select(['storage_key', 'thumb_key']).where('generation_id', '=', created.body.id).execute();
    for (const r of rows) for (const key of [r.storage_key, r.thumb_key]) await access(path.join(h.storageDir, key));
    expect((await h.api('GET', g.body.images[0].url, { user })).status).toBe(200);
    await eventually(() => h.ledger.count('capture', created.body.id) === 1);
    expect(h.ledger.balance(user)).toEqual({ available: 9, held: 0, consumed: 1 });
  });

  it('deletes what it stored when the generation is gone by then (purged during the render)', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const created = await h.api('POST', '/v1/generations', { user, body: { prompt: 'purged mid-render', model: 'imlab-draft' } });
    // The success transaction fails without committing, after the person's purge removed the row.
    const folder = path.join(h.storageDir, 'u', user, 'g', created.body.id);
    let storedBefore: string[] = [];
    const purge = async () => {
      storedBefore = (await readdir(folder, { recursive: true })).map(String);
      await h.ctx.db.deleteFrom('generations').where('id', '=', created.body.id).execute();
    };
    await renderOn(commitAnswerLost(h.ctx.db, 2, purge, false)).process(created.body.id, job(), undefined, logger).catch(() => undefined);
    expect(storedBefore.filter((f) => /\.(png|webp)$/.test(f)).length).toBeGreaterThan(0); // the render had stored its images
    const left = await readdir(folder, { recursive: true }).catch(() => [] as string[]);
    expect(left.filter((f) => /\.(png|webp)$/.test(String(f)))).toEqual([]);
  });

  it('a retry that finds the generation gone removes what an earlier attempt kept there', async () => {
    const user = uuidv7();
    const id = uuidv7();
    const folder = path.join(h.storageDir, 'u', user, 'g', id, uuidv7());
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, '0.png'), 'kept by an attempt whose outcome was unreadable');
    expect(await renderOn(h.ctx.db).process(id, job(1), undefined, logger, user)).toEqual({ skipped: 'gone' });
    await expect(access(path.join(h.storageDir, 'u', user, 'g', id))).rejects.toThrow();
  });
});
