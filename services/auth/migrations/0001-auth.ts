/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and typed loosely on purpose */
import { sql, type Kysely } from 'kysely';

/** Frozen: people, their Google identities, sessions, single-use email tokens, bonus claims, exports. */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table users (
      id uuid primary key,
      email text not null,
      email_verified_at timestamptz,
      password_hash text,
      display_name text not null default '',
      locale text not null default 'en' check (locale in ('en', 'zh')),
      roles text[] not null default '{user}',
      status text not null default 'active' check (status in ('active', 'deleted')),
      purge_after timestamptz,
      signup_ip_hash text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`.execute(db);
  // emails are stored lower-cased and NFKC-normalised; one account per address
  await sql`create unique index users_email on users (email)`.execute(db);
  await sql`create index users_purge_due on users (purge_after) where status = 'deleted'`.execute(db);

  await sql`
    create table identities (
      issuer text not null,
      subject text not null,
      user_id uuid not null references users (id) on delete cascade,
      created_at timestamptz not null default now(),
      primary key (issuer, subject)
    )`.execute(db);
  await sql`create index identities_user on identities (user_id)`.execute(db);

  await sql`
    create table sessions (
      id uuid primary key,
      user_id uuid not null references users (id) on delete cascade,
      token_hash text not null unique,
      device text not null default '',
      created_at timestamptz not null default now(),
      authenticated_at timestamptz not null default now(),
      last_seen_at timestamptz not null default now(),
      expires_at timestamptz not null,
      revoked_at timestamptz
    )`.execute(db);
  await sql`create index sessions_user on sessions (user_id) where revoked_at is null`.execute(db);

  await sql`
    create table email_tokens (
      id uuid primary key,
      user_id uuid not null references users (id) on delete cascade,
      purpose text not null check (purpose in ('verify', 'reset')),
      token_hash text not null unique,
      expires_at timestamptz not null,
      used_at timestamptz,
      created_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index email_tokens_user on email_tokens (user_id, purpose)`.execute(db);

  // Keyed by the HMAC of the IP only; survives the account's purge so the window still holds.
  await sql`
    create table signup_bonus_claims (
      id uuid primary key,
      ip_hash text not null,
      user_id uuid,
      granted_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index signup_bonus_claims_ip on signup_bonus_claims (ip_hash, granted_at)`.execute(db);
  await sql`create unique index signup_bonus_claims_user on signup_bonus_claims (user_id) where user_id is not null`.execute(db);

  await sql`
    create table exports (
      id uuid primary key,
      user_id uuid not null references users (id) on delete cascade,
      status text not null default 'pending' check (status in ('pending', 'running', 'ready', 'failed')),
      attempts integer not null default 0,
      lease_until timestamptz,
      file_name text,
      error text,
      created_at timestamptz not null default now(),
      completed_at timestamptz,
      expires_at timestamptz
    )`.execute(db);
  await sql`create index exports_due on exports (created_at) where status in ('pending', 'running')`.execute(db);
  await sql`create index exports_user on exports (user_id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['exports', 'signup_bonus_claims', 'email_tokens', 'sessions', 'identities', 'users']) {
    await sql`drop table ${sql.id(t)}`.execute(db);
  }
}
