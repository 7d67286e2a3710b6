import { sql, type Kysely } from 'kysely';

/**
 * The transfers that move a person's debt (clawback_debt, restore_debt, debt_repay), by person.
 * Every hold that gives credits back reads the person's outstanding debt (a refund or dispute that
 * found their credits held left a debt, which the returned credits pay first); debt transfers are
 * rare, so this index keeps that read to a few entries however long the person's history is.
 *
 * Frozen: never edit once shipped, add a new migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index transfers_debt_by_subject on transfers (subject_id, id) where kind in ('clawback_debt', 'restore_debt', 'debt_repay')`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index transfers_debt_by_subject`.execute(db);
}
