import { sql, type Kysely } from 'kysely';

/**
 * The shared outbox migration wakes the relay with pg_notify from a trigger. A transaction that
 * has issued NOTIFY takes Postgres's global notify-queue lock at commit and keeps it through the
 * WAL flush, so every posting's commit queued behind the previous one (bench/ledger.ts measured
 * about half the postings per second with it). The ledger's relay polls every OUTBOX_POLL_MS
 * instead. Frozen: never edit, add a new migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger if exists outbox_notify on outbox`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create trigger outbox_notify after insert on outbox for each statement execute function imlab_outbox_notify()`.execute(db);
}
