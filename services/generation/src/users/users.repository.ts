import { isPurged, sql, type Db } from '@imlab/db';
import type { DB } from '../db.js';

/**
 * Keeps the display name of the newest profile event (by its occurredAt): a user.registered
 * applied after a user.updated changes nothing, and nothing comes back after a purge.
 */
export async function upsertProfile(db: Db<DB>, userId: string, displayName: string, sourceAt: Date): Promise<boolean> {
  if (await isPurged(db, userId)) return false;
  const res = await db
    .insertInto('user_profiles')
    .values({ user_id: userId, display_name: displayName, source_at: sourceAt })
    .onConflict((oc) =>
      oc
        .column('user_id')
        .doUpdateSet((eb) => ({ display_name: eb.ref('excluded.display_name'), source_at: eb.ref('excluded.source_at'), updated_at: sql`now()` }))
        .whereRef('user_profiles.source_at', '<=', 'excluded.source_at'),
    )
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function deleteProfile(db: Db<DB>, userId: string): Promise<void> {
  await db.deleteFrom('user_profiles').where('user_id', '=', userId).execute();
}
