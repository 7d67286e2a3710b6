import { sql, beginPurge, isPurged as isTombstoned, markPurged, type Db, type Transaction } from '@imlab/db';
import type { DB, Locale } from '../db.js';

export interface ContactInput {
  userId: string;
  email: string;
  locale: Locale;
  displayName: string;
  /** occurredAt of the event carrying it. */
  sourceAt: Date;
}

/**
 * Inserts or updates a contact, unless a newer event already wrote it (events can arrive out of
 * order) or the user was purged (a late user.updated must not bring the address back).
 */
export async function upsertContact(db: Db<DB>, c: ContactInput): Promise<boolean> {
  if (await isPurged(db, c.userId)) return false;
  const res = await db
    .insertInto('contacts')
    .values({ user_id: c.userId, email: c.email, locale: c.locale, display_name: c.displayName, source_at: c.sourceAt })
    .onConflict((oc) =>
      oc
        .column('user_id')
        .doUpdateSet((eb) => ({
          email: eb.ref('excluded.email'),
          locale: eb.ref('excluded.locale'),
          display_name: eb.ref('excluded.display_name'),
          source_at: eb.ref('excluded.source_at'),
          updated_at: sql`now()`,
        }))
        .whereRef('contacts.source_at', '<=', 'excluded.source_at'),
    )
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function isPurged(db: Db<DB>, userId: string): Promise<boolean> {
  return isTombstoned(db, userId);
}

export async function findContact(db: Db<DB>, userId: string) {
  return db.selectFrom('contacts').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

/** Deletes the contact and leaves a tombstone; returns the deleted address, if there was one. */
export async function purgeContact(tx: Transaction<DB>, userId: string): Promise<string | undefined> {
  await beginPurge(tx, userId);
  const row = await tx.deleteFrom('contacts').where('user_id', '=', userId).returning('email').executeTakeFirst();
  await markPurged(tx, userId);
  return row?.email;
}
