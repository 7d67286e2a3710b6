import { createHash } from 'node:crypto';
import type { Generated, Kysely, Transaction } from 'kysely';

/**
 * Where a service must remember that a person was purged (so a late message cannot bring their
 * data back), it keeps a SHA-256 of the user id, never the id: after a purge nothing may name them.
 * The service's own migration creates the table.
 */
export interface PurgeTombstoneTables {
  purged_user_hashes: { user_hash: string; purged_at: Generated<Date> };
}

type WithTombstones<DB extends PurgeTombstoneTables> = Kysely<DB> | Transaction<DB>;
const tombstones = <DB extends PurgeTombstoneTables>(db: WithTombstones<DB>) => db as unknown as Kysely<PurgeTombstoneTables>;

export function purgedUserHash(userId: string): string {
  return createHash('sha256').update(userId).digest('hex');
}

/** Leaves the tombstone (idempotent), in the purge's own transaction. */
export async function markPurged<DB extends PurgeTombstoneTables>(tx: WithTombstones<DB>, userId: string): Promise<void> {
  await tombstones(tx).insertInto('purged_user_hashes').values({ user_hash: purgedUserHash(userId) }).onConflict((oc) => oc.column('user_hash').doNothing()).execute();
}

export async function isPurged<DB extends PurgeTombstoneTables>(db: WithTombstones<DB>, userId: string): Promise<boolean> {
  return Boolean(await tombstones(db).selectFrom('purged_user_hashes').select('user_hash').where('user_hash', '=', purgedUserHash(userId)).executeTakeFirst());
}
