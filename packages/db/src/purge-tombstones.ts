import { createHash } from 'node:crypto';
import { sql, type Generated, type Kysely, type Transaction } from 'kysely';

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

function purgedUserHash(userId: string): string {
  return createHash('sha256').update(userId).digest('hex');
}

/**
 * The person's purge lock, per transaction: a purge holds it exclusively from its first statement to
 * its commit, and every write that could bring the person's data back takes it shared before
 * checking the tombstone. Without it, a write racing the purge could check before the tombstone is
 * committed and write after the purge deleted or re-keyed. The ledger's posting functions take the
 * same lock (same key) in SQL.
 */
const purgeLockKey = (userId: string) => sql`hashtextextended(${`imlab-purge:${userId.toLowerCase()}`}, 0)`;

/** Starts a purge: waits for writes about the person under way, and holds off new ones until commit. */
export async function beginPurge<DB extends PurgeTombstoneTables>(tx: Transaction<DB>, userId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(${purgeLockKey(userId)})`.execute(tx);
}

/** Leaves the tombstone (idempotent), in the purge's own transaction (after beginPurge). */
export async function markPurged<DB extends PurgeTombstoneTables>(tx: WithTombstones<DB>, userId: string): Promise<void> {
  await tombstones(tx).insertInto('purged_user_hashes').values({ user_hash: purgedUserHash(userId) }).onConflict((oc) => oc.column('user_hash').doNothing()).execute();
}

/**
 * Whether the person was purged, after waiting for a purge under way (shared purge lock, held to
 * the end of the caller's transaction, so no purge can start before the caller's write commits).
 * Two statements: a statement's snapshot is taken before it waits for the lock.
 */
export async function isPurged<DB extends PurgeTombstoneTables>(db: WithTombstones<DB>, userId: string): Promise<boolean> {
  await sql`select pg_advisory_xact_lock_shared(${purgeLockKey(userId)})`.execute(db);
  return Boolean(await tombstones(db).selectFrom('purged_user_hashes').select('user_hash').where('user_hash', '=', purgedUserHash(userId)).executeTakeFirst());
}
