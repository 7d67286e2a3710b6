import { sql, type Kysely } from 'kysely';

/**
 * A purge re-keys the person's accounts; a grant, clawback or restore still in flight would open
 * new ones under their id. The ledger remembers purged people as SHA-256 of the id (as the other
 * services do) and turns such late commands into no-ops. Frozen: never edit, add a new migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table purged_user_hashes (user_hash text primary key, purged_at timestamptz not null default now())`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table purged_user_hashes`.execute(db);
}
