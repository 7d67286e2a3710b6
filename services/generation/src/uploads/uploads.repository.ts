import { sql, type Db, type Transaction } from '@imlab/db';
import type { Insertable } from 'kysely';
import type { DB, UploadRow, UploadTable } from '../db.js';

export async function findUploadByHash(db: Db<DB>, userId: string, sha256: string): Promise<UploadRow | undefined> {
  return db.selectFrom('uploads').selectAll().where('user_id', '=', userId).where('sha256', '=', sha256).executeTakeFirst();
}

/** Inserts unless the same person already uploaded the same bytes; returns the stored row either way. */
export async function insertUpload(db: Db<DB>, row: Insertable<UploadTable>): Promise<{ row: UploadRow; created: boolean }> {
  const inserted = await db
    .insertInto('uploads')
    .values(row)
    .onConflict((oc) => oc.columns(['user_id', 'sha256']).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return { row: inserted, created: true };
  return { row: (await findUploadByHash(db, row.user_id, row.sha256))!, created: false };
}

/** Pushes the expiry of a still-unused upload forward (a re-upload of the same bytes). */
export async function refreshExpiry(db: Db<DB>, id: string, expiresAt: Date): Promise<void> {
  await db.updateTable('uploads').set({ expires_at: expiresAt }).where('id', '=', id).where('expires_at', 'is not', null).execute();
}

export async function findOwnedUploads(db: Db<DB>, userId: string, ids: string[]): Promise<UploadRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('uploads').selectAll().where('user_id', '=', userId).where('id', 'in', ids).execute();
}

export async function findUploads(db: Db<DB>, ids: string[]): Promise<UploadRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('uploads').selectAll().where('id', 'in', ids).execute();
}

/** Referenced by a generation: kept until the person deletes their account. */
/**
 * Keeps the person's uploads for good now that a generation uses them, in the generation's
 * transaction: only uploads that are theirs and not expired (the sweeper may be about to delete
 * one); answers how many that was, so the caller refuses the generation when one is missing.
 */
export async function markUsed(db: Db<DB>, userId: string, ids: string[]): Promise<number> {
  if (!ids.length) return 0;
  const res = await db
    .updateTable('uploads')
    .set({ expires_at: null })
    .where('user_id', '=', userId)
    .where('id', 'in', ids)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

export async function takeExpired(tx: Transaction<DB>, now: Date, limit = 200): Promise<UploadRow[]> {
  return tx.deleteFrom('uploads').where('id', 'in', (eb) => eb.selectFrom('uploads').select('id').where('expires_at', '<', now).limit(limit)).returningAll().execute();
}

export async function uploadsOfUser(db: Db<DB>, userId: string): Promise<UploadRow[]> {
  return db.selectFrom('uploads').selectAll().where('user_id', '=', userId).orderBy('created_at').execute();
}

export async function deleteUploadsOfUser(db: Db<DB>, userId: string): Promise<void> {
  await db.deleteFrom('uploads').where('user_id', '=', userId).execute();
}
