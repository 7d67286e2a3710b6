import { sql, type Db, type Kysely } from '@imlab/db';
import type { Logger } from '@imlab/logger';
import type { DB } from '../db.js';
import type { GenerationMetrics } from '../metrics.js';
import type { ObjectStorage } from './storage.js';

export interface StoredObject {
  userId: string;
  key: string;
}

/** The longest wait between two tries of a deletion storage keeps refusing. */
const MAX_BACKOFF_SECONDS = 3600;

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
  constructor(private readonly d: { db: Kysely<DB>; storage: ObjectStorage; log: Logger; metrics: GenerationMetrics }) {}

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

  /** In the transaction that inserts the rows naming these objects: they stay. */
  static async keep(tx: Db<DB>, keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await tx.deleteFrom('storage_deletions').where('key', 'in', keys).execute();
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
    // A record left behind (database unreachable) only makes the sweep delete them again.
    await this.d.db
      .deleteFrom('storage_deletions')
      .where('key', 'in', keys)
      .execute()
      .catch((err: unknown) => this.d.log.warn({ err }, 'deleted objects still recorded; the sweep deletes them again'));
    return true;
  }

  /**
   * Retries recorded deletions that are due, oldest first. Each is claimed by pushing its next try
   * back (30 s doubling, at most an hour) before storage is asked, so instances sweeping at once
   * do not take the same ones and a failure waits its turn.
   */
  async sweep(limit = 200): Promise<{ deleted: number; failed: number }> {
    const claimed = await this.d.db
      .updateTable('storage_deletions')
      .set({
        attempts: sql`attempts + 1`,
        next_attempt_at: sql`now() + make_interval(secs => least(30 * power(2, least(attempts, 20)), ${MAX_BACKOFF_SECONDS}))`,
      })
      .where('key', 'in', (eb) =>
        eb.selectFrom('storage_deletions').select('key').where('next_attempt_at', '<=', sql<Date>`now()`).orderBy('next_attempt_at').limit(limit).forUpdate().skipLocked(),
      )
      .returning('key')
      .execute();
    const keys = claimed.map((r) => r.key);
    const ok = await this.deleteNow(keys);
    // Due or failed before; provisional records within their grace are writes still under way.
    const pending = await this.d.db
      .selectFrom('storage_deletions')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where((eb) => eb.or([eb('next_attempt_at', '<=', sql<Date>`now()`), eb('attempts', '>', 0)]))
      .executeTakeFirstOrThrow();
    this.d.metrics.storageDeletionsPending.set(Number(pending.n));
    return ok ? { deleted: keys.length, failed: 0 } : { deleted: 0, failed: keys.length };
  }

  /** In a purge, after the person's objects are gone (by prefix): their records go too. */
  static async forgetUser(tx: Db<DB>, userId: string): Promise<void> {
    await tx.deleteFrom('storage_deletions').where('user_id', '=', userId).execute();
  }
}
