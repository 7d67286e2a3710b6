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
 * Deleting stored objects whose rows are gone. The rows and the record of their objects go in one
 * transaction (`request`); the objects are deleted after it commits (`deleteNow`), and whatever
 * storage failed to delete is retried by the sweep with a growing wait until storage confirms.
 * Without the record, a storage failure after the commit left objects nothing pointed to.
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

  /** After the requesting transaction committed. A failure is logged and left to the sweep. */
  async deleteNow(keys: string[]): Promise<boolean> {
    if (keys.length === 0) return true;
    try {
      await this.d.storage.delete(keys);
    } catch (err) {
      this.d.metrics.storageDeletionFailures.inc();
      this.d.log.warn({ err, objects: keys.length }, 'stored objects not deleted; the sweep retries');
      return false;
    }
    await this.d.db.deleteFrom('storage_deletions').where('key', 'in', keys).execute();
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
    const pending = await this.d.db.selectFrom('storage_deletions').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    this.d.metrics.storageDeletionsPending.set(Number(pending.n));
    return ok ? { deleted: keys.length, failed: 0 } : { deleted: 0, failed: keys.length };
  }

  /** In a purge, after the person's objects are gone (by prefix): their records go too. */
  static async forgetUser(tx: Db<DB>, userId: string): Promise<void> {
    await tx.deleteFrom('storage_deletions').where('user_id', '=', userId).execute();
  }
}
