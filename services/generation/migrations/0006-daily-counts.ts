import { sql, type Kysely } from 'kysely';

/**
 * Counts of what leaves no row of its own (issue #20's metrics): a prompt refused under the content
 * policy is never stored, so its rule is counted here per UTC day. No person, no prompt: a day, a
 * metric, a label (the rule id) and a number. Frozen: never edit, add a new migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table daily_counts (
      day date not null,
      metric text not null,
      label text not null,
      count integer not null default 0,
      primary key (day, metric, label)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table daily_counts`.execute(db);
}
