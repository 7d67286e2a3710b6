import type { Db } from '@imlab/db';
import type { DB } from '../db.js';

export async function upsertProfile(db: Db<DB>, userId: string, displayName: string): Promise<void> {
  await db
    .insertInto('user_profiles')
    .values({ user_id: userId, display_name: displayName })
    .onConflict((oc) => oc.column('user_id').doUpdateSet({ display_name: displayName, updated_at: new Date() }))
    .execute();
}

export async function deleteProfile(db: Db<DB>, userId: string): Promise<void> {
  await db.deleteFrom('user_profiles').where('user_id', '=', userId).execute();
}
