import { sql, type Db, type Kysely } from '@imlab/db';
import type { Logger } from '@imlab/logger';
import { AppError } from '@imlab/http';
import type { Gauge } from 'prom-client';
import type { DB } from '../db.js';
import type { GenerationMetrics } from '../metrics.js';
import type { ObjectStorage } from './storage.js';

export interface StoredObject {
  userId: string;
  key: string;
}

/** The longest wait between two tries of a deletion storage keeps refusing. */
const MAX_BACKOFF_SECONDS = 3600;

interface DeletionDeps {
  db: Kysely<DB>;
  storage: ObjectStorage;
  log: Logger;
  metrics: Pick<GenerationMetrics, 'storageDeletionFailures'>;
  /** Set by the sweep; only where the sweep runs (the API process), not in render workers. */
  pending?: Gauge;
}

/**
 * Stored objects no row names. Deleting: the rows and the record of their objects go in one
 * transaction (`request`); the objects are deleted after it commits (`deleteNow`), and whatever
 * storage failed to delete is retried by the sweep with a growing wait until storage confirms.
 * Writing: objects are recorded before they are written, due only after a grace (`provisional`),
 * and the transaction that inserts their rows takes the record back (`keep`); a write whose row
 * never commits (a crash, a lost race, an error) is deleted by the sweep once the grace is over.
 * Without the records, a storage failure or a crash at the wrong moment left objects nothing
 * pointed to.
 */
export class StorageDeletions {
  private readonly d: DeletionDeps;
  constructor(d: DeletionDeps) {
    this.d = d;
  }

  /** In the transaction that deletes the rows naming these objects. */
  static async request(tx: Db<DB>, objects: StoredObject[]): Promise<void> {
    if (objects.length === 0) return;
    await tx
      .insertInto('storage_deletions')
      .values(objects.map((o) => ({ key: o.key, user_id: o.userId })))
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
  }

  /**
   * Before writing objects no committed row names yet: unless `keep` takes the record back, the
   * sweep deletes them from `dueAt` on (after the last moment their row could still commit).
   */
  static async provisional(db: Db<DB>, objects: StoredObject[], dueAt: Date): Promise<void> {
    if (objects.length === 0) return;
    await db
      .insertInto('storage_deletions')
      .values(objects.map((o) => ({ key: o.key, user_id: o.userId, next_attempt_at: dueAt })))
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
  }

  /**
   * In the transaction that inserts the rows naming these objects: they stay. Throws (so that
   * transaction rolls back) when the sweep has already taken any of them, as it does once their
   * grace is over: rows committed then would name deleted objects.
   */
  static async keep(tx: Db<DB>, keys: string[]): Promise<void> {
    const wanted = new Set(keys);
    if (wanted.size === 0) return;
    const kept = await tx.deleteFrom('storage_deletions').where('key', 'in', [...wanted]).where('attempts', '=', 0).returning('key').execute();
    if (kept.length !== wanted.size) {
      throw new AppError('STORAGE_OBJECTS_RECLAIMED', { message: 'the stored objects were written too long ago and are being deleted', retryable: true });
    }
  }

  /**
   * Deletes objects no row names (after the transaction that recorded them, if any) and their
   * records. Never throws: what storage fails to delete stays recorded for the sweep.
   */
  async deleteNow(keys: string[]): Promise<boolean> {
    if (keys.length === 0) return true;
    try {
      await this.d.storage.delete(keys);
    } catch (err) {
      this.d.metrics.storageDeletionFailures.inc();
      this.d.log.warn({ err, objects: keys.length }, 'stored objects not deleted; the sweep retries');
      return false;
    }
    await this.forget(keys);
    return true;
  }

  /** A record left behind (database unreachable) only makes the sweep delete its object again. */
  private async forget(keys: string[]): Promise<void> {
    await this.d.db
      .deleteFrom('storage_deletions')
      .where('key', 'in', keys)
      .execute()
      .catch((err: unknown) => this.d.log.warn({ err }, 'deleted objects still recorded; the sweep deletes them again'));
  }

  /**
   * Retries recorded deletions that are due, oldest first. Each is claimed by pushing its next try
   * back (30 s doubling, at most an hour) before storage is asked, so instances sweeping at once
   * do not take the same ones and a failure waits its turn.
   */
  async sweep(limit = 200, onlyUser?: string): Promise<{ deleted: number; failed: number }> {
    const claimed = await this.d.db
      .updateTable('storage_deletions')
      .set({
        attempts: sql`attempts + 1`,
        next_attempt_at: sql`now() + make_interval(secs => least(30 * power(2, least(attempts, 20)), ${MAX_BACKOFF_SECONDS}))`,
      })
      .where('key', 'in', (eb) => {
        let due = eb.selectFrom('storage_deletions').select('key').where('next_attempt_at', '<=', sql<Date>`now()`);
        if (onlyUser !== undefined) due = due.where('user_id', '=', onlyUser);
        return due.orderBy('next_attempt_at').limit(limit).forUpdate().skipLocked();
      })
      .returning('key')
      .execute();
    const keys = claimed.map((r) => r.key);
    let deleted = (await this.deleteNow(keys)) ? keys.length : 0;
    if (deleted === 0 && keys.length > 1) deleted = await this.oneByOne(keys);
    // Due or failed before; provisional records within their grace are writes still under way.
    const pending = await this.d.db
      .selectFrom('storage_deletions')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where((eb) => eb.or([eb('next_attempt_at', '<=', sql<Date>`now()`), eb('attempts', '>', 0)]))
      .executeTakeFirstOrThrow();
    this.d.pending?.set(Number(pending.n));
    return { deleted, failed: keys.length - deleted };
  }

  /**
   * The batch failed: one object storage refuses must not hold the others back. Each is tried on
   * its own until three in a row fail (storage itself is down: the rest wait for the next try).
   */
  private async oneByOne(keys: string[]): Promise<number> {
    let deleted = 0;
    let failedInARow = 0;
    for (const key of keys) {
      try {
        await this.d.storage.delete([key]);
      } catch {
        if (++failedInARow >= 3) break;
        continue;
      }
      failedInARow = 0;
      await this.forget([key]);
      deleted++;
    }
    return deleted;
  }

  /** Right after a purge committed: the person's records, due at once, are acted on without waiting for the sweep. */
  async sweepUser(userId: string): Promise<void> {
    for (;;) {
      const { deleted, failed } = await this.sweep(200, userId);
      if (failed > 0 || deleted < 200) return; // done, or storage refuses: the sweep retries
    }
  }

  /**
   * In a purge, after the person's objects are gone (by prefix): what is recorded of them becomes
   * due at once, so the sweep deletes anything written since (a render in flight) and then the
   * records. They are not dropped here: they are what deletes objects written after the prefix went.
   */
  static async dueNow(tx: Db<DB>, userId: string): Promise<void> {
    await tx.updateTable('storage_deletions').set({ next_attempt_at: sql<Date>`now()` }).where('user_id', '=', userId).execute();
  }
}
