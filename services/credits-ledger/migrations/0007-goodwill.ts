import { sql, type Kysely } from 'kysely';

/**
 * Goodwill credits (issue #20): an admin grants credits with a written reason. They come from a
 * system account of their own, `goodwill` (so the books show what was given away apart from promo
 * and purchases), as a `grant` posting with transfers of kind `grant_goodwill`. `goodwill_grants`
 * records who granted how much to whom, for the per-admin daily cap; a purge deletes the rows that
 * name the recipient and blanks the actor where the purged person granted. Frozen: never edit once
 * shipped, add a new migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table accounts drop constraint accounts_type_check`.execute(db);
  await sql`
    alter table accounts add constraint accounts_type_check
    check (type in ('available', 'held', 'issuance', 'promo', 'consumed', 'forfeited', 'debt', 'erased', 'goodwill'))`.execute(db);
  await sql`insert into accounts (type) values ('goodwill') on conflict do nothing`.execute(db);
  await sql`
    create table goodwill_grants (
      posting_key text primary key,
      actor_id uuid,
      user_id uuid not null,
      amount integer not null check (amount > 0),
      created_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index goodwill_grants_actor_day on goodwill_grants (actor_id, created_at)`.execute(db);
  await sql`create index goodwill_grants_user on goodwill_grants (user_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table goodwill_grants`.execute(db);
  await sql`delete from accounts where type = 'goodwill' and owner_id is null`.execute(db);
  await sql`alter table accounts drop constraint accounts_type_check`.execute(db);
  await sql`
    alter table accounts add constraint accounts_type_check
    check (type in ('available', 'held', 'issuance', 'promo', 'consumed', 'forfeited', 'debt', 'erased'))`.execute(db);
}
