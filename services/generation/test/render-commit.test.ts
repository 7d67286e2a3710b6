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
import { createStorage, type ObjectStorage } from '../src/storage/storage.js';
import { purgeUser } from '../src/privacy/privacy.service.js';
import { StorageDeletions } from '../src/storage/deletions.js';
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
 * transaction runs (after `before`), and then the caller gets an error anyway. `commit` says what
 * became of it: committed, rolled back, or still committing (its changes made and its locks held
 * for 500 ms after the caller was told). `unreadableAfter`: the database stays unreachable.
 */
function commitAnswerLost(
  db: Kysely<DB>,
  opts: { nth?: number; before?: () => Promise<void>; commit?: 'done' | 'never' | 'in-flight'; unreadableAfter?: boolean } = {},
): Kysely<DB> {
  const { nth = 2, before, commit = 'done', unreadableAfter = false } = opts;
  const lost = () => new Error('Connection terminated unexpectedly');
  let count = 0;
  return new Proxy(db, {
    get(target, prop) {
      if (unreadableAfter && count >= nth && (prop === 'selectFrom' || prop === 'transaction')) {
        const unreachable = () => {
          throw lost();
        };
        return prop === 'selectFrom' ? unreachable : () => ({ execute: async () => unreachable() });
      }
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
            if (commit === 'done') await builder.execute(fn);
            if (commit === 'in-flight') {
              let changed!: () => void;
              const madeChanges = new Promise<void>((r) => (changed = r));
              void builder
                .execute(async (trx) => {
                  const result = await fn(trx);
                  changed();
                  await new Promise((r) => setTimeout(r, 500));
                  return result;
                })
                .catch(() => undefined);
              await madeChanges;
            }
            throw lost();
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
  const metrics = createMetrics(new Registry());
  const storage = createStorage(h.config);
  const deletions = new StorageDeletions({ db: h.ctx.db, storage, log: logger, metrics });
  return new RenderService({ db, bus: h.ctx.bus, config: h.config, events, metrics, storage, deletions, provider: createProvider(h.config), logger });
}

describe('render whose success commit answers with an error', () => {
  // Transaction 1 claims the job, transaction 2 is the success (images + capture). In flight: the
  // answer is lost while the COMMIT still holds its locks, which the render's check must wait for.
  it.each(['done', 'in-flight'] as const)('keeps the images of a generation whose commit answer was lost (commit %s): charged once, nothing deleted, nothing re-rendered', async (commit) => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const created = await h.api('POST', '/v1/generations', { user, body: { prompt: `commit answer lost, ${commit}`, model: 'imlab-draft' } });
    expect(created.body.status).toBe('queued');

    const outcome = await renderOn(commitAnswerLost(h.ctx.db, { commit })).process(created.body.id, job(), undefined, logger);
    expect(outcome).toMatchObject({ status: 'succeeded' });

    const g = await h.api('GET', `/v1/generations/${created.body.id}`, { user });
    expect(g.body.status).toBe('succeeded');
    expect(g.body.images).toHaveLength(1);
    const rows = await h.ctx.db.selectFrom('images').select(['storage_key', 'thumb_key']).where('generation_id', '=', created.body.id).execute();
    for (const r of rows) for (const key of [r.storage_key, r.thumb_key]) await access(path.join(h.storageDir, key));
    expect((await h.api('GET', g.body.images[0].url, { user })).status).toBe(200);
    await eventually(() => h.ledger.count('capture', created.body.id) === 1);
    expect(h.ledger.balance(user)).toEqual({ available: 9, held: 0, consumed: 1 });
    // The commit kept its files: nothing of them is left for the sweep to delete.
    expect(await h.ctx.db.selectFrom('storage_deletions').select('key').where('user_id', '=', user).execute()).toEqual([]);
  });

  it('an attempt whose outcome could not be read and that is never run again: its files are deleted by the sweep once no commit can happen', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const created = await h.api('POST', '/v1/generations', { user, body: { prompt: 'outcome unreadable', model: 'imlab-draft' } });
    const folder = path.join(h.storageDir, 'u', user, 'g', created.body.id);
    // The success transaction does not commit, and the database stays unreachable for the check after it.
    await expect(renderOn(commitAnswerLost(h.ctx.db, { commit: 'never', unreadableAfter: true })).process(created.body.id, job(), undefined, logger)).rejects.toThrow();
    const written = (await readdir(folder, { recursive: true })).map(String).filter((f) => /\.(png|webp)$/.test(f));
    expect(written).toHaveLength(2); // kept for a retry to sort out
    const records = await h.ctx.db.selectFrom('storage_deletions').selectAll().where('user_id', '=', user).execute();
    expect(records.map((r) => r.key).sort()).toEqual(written.map((f) => `u/${user}/g/${created.body.id}/${f}`).sort());
    const g = await h.ctx.db.selectFrom('generations').select('hold_expires_at').where('id', '=', created.body.id).executeTakeFirstOrThrow();
    // Not while the generation could still commit (until its hold expires), nor a while after.
    for (const r of records) expect(r.next_attempt_at.getTime()).toBeGreaterThanOrEqual(g.hold_expires_at.getTime() + 3600_000);
    await h.app.generation.deletions.sweep();
    expect((await readdir(folder, { recursive: true })).map(String).filter((f) => /\.(png|webp)$/.test(f))).toHaveLength(2);

    // No retry ever comes (the job was lost, the generation failed): once due, the sweep deletes them.
    await h.ctx.db.updateTable('storage_deletions').set({ next_attempt_at: new Date(Date.now() - 1000) }).where('user_id', '=', user).execute();
    await h.app.generation.deletions.sweep();
    expect((await readdir(folder, { recursive: true }).catch(() => [] as string[])).map(String).filter((f) => /\.(png|webp)$/.test(f))).toEqual([]);
    expect(await h.ctx.db.selectFrom('storage_deletions').select('key').where('user_id', '=', user).execute()).toEqual([]);
  });

  it('does not commit images the sweep already took (an attempt that outlived its grace): rolled back, files gone, run again', async () => {
    const user = uuidv7();
    h.ledger.grant(user, 10);
    const created = await h.api('POST', '/v1/generations', { user, body: { prompt: 'outlived its grace', model: 'imlab-draft' } });
    const folder = path.join(h.storageDir, 'u', user, 'g', created.body.id);
    // Just before the success commit, the attempt's records fall due and the sweep deletes its files.
    const sweepFirst = async () => {
      await h.ctx.db.updateTable('storage_deletions').set({ next_attempt_at: new Date(Date.now() - 1000) }).where('user_id', '=', user).execute();
      expect(await h.app.generation.deletions.sweep()).toMatchObject({ deleted: 2 });
    };
    await expect(renderOn(commitAnswerLost(h.ctx.db, { before: sweepFirst })).process(created.body.id, job(), undefined, logger)).rejects.toMatchObject({ code: 'STORAGE_OBJECTS_RECLAIMED' });
    expect(await h.ctx.db.selectFrom('images').select('id').where('generation_id', '=', created.body.id).execute()).toEqual([]);
    expect((await h.ctx.db.selectFrom('generations').select('status').where('id', '=', created.body.id).executeTakeFirstOrThrow()).status).toBe('queued');
    expect((await readdir(folder, { recursive: true }).catch(() => [] as string[])).map(String).filter((f) => /\.(png|webp)$/.test(f))).toEqual([]);
    expect(h.ledger.count('capture', created.body.id)).toBe(0);
  });

  it('a purge deletes what a render wrote while the purge was under way (its success committed just before the rows went)', async () => {
    const user = uuidv7();
    const storage = createStorage(h.config);
    let racing = true;
    // Right after the purge's first pass over the person's folder, a render writes its image there
    // (and its success commit, which the purge's row delete waits for, takes back its records).
    const duringPurge: ObjectStorage = {
      kind: storage.kind,
      put: (k, b, t) => storage.put(k, b, t),
      get: (k) => storage.get(k),
      delete: (ks) => storage.delete(ks),
      ping: () => storage.ping(),
      deletePrefix: async (prefix) => {
        await storage.deletePrefix(prefix);
        if (racing) {
          racing = false;
          await storage.put(`u/${user}/g/${uuidv7()}/${uuidv7()}/0.png`, Buffer.from('image bytes'), 'image/png');
        }
      },
    };
    await h.ctx.db.transaction().execute((tx) => purgeUser(tx, duringPurge, user));
    expect(await readdir(path.join(h.storageDir, 'u', user), { recursive: true }).catch(() => [] as string[])).toEqual([]);
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
    await renderOn(commitAnswerLost(h.ctx.db, { before: purge, commit: 'never' })).process(created.body.id, job(), undefined, logger).catch(() => undefined);
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
