/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and typed loosely on purpose */
import { sql, type Kysely } from 'kysely';

/**
 * Frozen. Suspension (issue #20): `users.suspended_at` — set, the account cannot sign in and its
 * sessions are ended; cleared by unsuspending.
 *
 * The audit log of every back-office action (issue #20), kept by auth for every service
 * (they send `audit.record` through their outbox in the action's transaction). Ids only: who
 * (actor), whom (target person) and what (other ids), when, and the written reason.
 *
 * Append-only, enforced here: a trigger refuses DELETE and TRUNCATE, and any UPDATE except the one
 * a purge makes — blanking the purged person's id where they are the actor or the target (nothing
 * else may change, and a blanked id never comes back).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table users add column suspended_at timestamptz`.execute(db);
  await sql`
    create table audit_log (
      id uuid primary key,
      at timestamptz not null,
      recorded_at timestamptz not null default now(),
      service text not null,
      actor_id uuid,
      action text not null,
      target_user_id uuid,
      target_ids jsonb not null default '{}'::jsonb,
      reason text not null
    )`.execute(db);
  await sql`create index audit_log_at on audit_log (at desc, id desc)`.execute(db);
  await sql`create index audit_log_target on audit_log (target_user_id, at desc) where target_user_id is not null`.execute(db);
  await sql`create index audit_log_actor on audit_log (actor_id, at desc) where actor_id is not null`.execute(db);
  await sql`
    create function audit_log_append_only() returns trigger language plpgsql as $$
    begin
      if tg_op <> 'UPDATE' then
        raise exception 'audit_log is append-only (% refused)', tg_op using errcode = 'insufficient_privilege';
      end if;
      if new.id <> old.id or new.at <> old.at or new.recorded_at <> old.recorded_at or new.service <> old.service
         or new.action <> old.action or new.target_ids <> old.target_ids or new.reason <> old.reason
         or (new.actor_id is distinct from old.actor_id and new.actor_id is not null)
         or (new.target_user_id is distinct from old.target_user_id and new.target_user_id is not null) then
        raise exception 'audit_log is append-only: only a purge may blank a person''s id' using errcode = 'insufficient_privilege';
      end if;
      return new;
    end $$`.execute(db);
  await sql`create trigger audit_log_no_change before update or delete on audit_log for each row execute function audit_log_append_only()`.execute(db);
  await sql`create trigger audit_log_no_truncate before truncate on audit_log for each statement execute function audit_log_append_only()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table audit_log`.execute(db);
  await sql`drop function audit_log_append_only()`.execute(db);
  await sql`alter table users drop column suspended_at`.execute(db);
}
