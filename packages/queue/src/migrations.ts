import { sql, type Generated, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

/**
 * Frozen migrations every service runs before its own: the transactional outbox and the consumer
 * inbox. Never edit one that has shipped; add a new one.
 */
export const queueMigrations: Record<string, Migration> = {
  '0000-imlab-outbox-inbox': {
    async up(db: Kysely<unknown>) {
      await sql`
        create table outbox (
          id uuid primary key,
          name text not null,
          payload jsonb not null,
          targets text[] not null,
          request_id text,
          delay_ms integer not null default 0,
          created_at timestamptz not null default now(),
          sent_at timestamptz
        )`.execute(db);
      await sql`create index outbox_unsent on outbox (id) where sent_at is null`.execute(db);
      // NOTIFY is delivered at commit, so the relay wakes only for committed rows.
      await sql`
        create function imlab_outbox_notify() returns trigger language plpgsql as $$
        begin
          perform pg_notify('imlab_outbox', '');
          return null;
        end $$`.execute(db);
      await sql`create trigger outbox_notify after insert on outbox for each statement execute function imlab_outbox_notify()`.execute(db);
      await sql`
        create table inbox (
          message_id text not null,
          consumer text not null,
          name text not null,
          result jsonb,
          processed_at timestamptz not null default now(),
          primary key (message_id, consumer)
        )`.execute(db);
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table inbox`.execute(db);
      await sql`drop trigger outbox_notify on outbox`.execute(db);
      await sql`drop function imlab_outbox_notify`.execute(db);
      await sql`drop table outbox`.execute(db);
    },
  },
};

export interface OutboxTable {
  id: string;
  name: string;
  payload: unknown;
  targets: string[];
  request_id: string | null;
  delay_ms: Generated<number>;
  created_at: Generated<Date>;
  sent_at: Date | null;
}

export interface InboxTable {
  message_id: string;
  consumer: string;
  name: string;
  result: unknown;
  processed_at: Generated<Date>;
}

/** Merge into a service's DB interface: `interface DB extends QueueTables { ... }`. */
export interface QueueTables {
  outbox: OutboxTable;
  inbox: InboxTable;
}
