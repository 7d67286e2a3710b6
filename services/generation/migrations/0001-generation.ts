import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table generations (
      id uuid primary key,
      user_id uuid not null,
      status text not null check (status in ('reserving','queued','running','succeeded','failed','canceled','rejected')),
      prompt text not null,
      negative_prompt text,
      model text not null,
      width integer not null,
      height integer not null,
      count integer not null check (count between 1 and 4),
      seed bigint not null,
      reference_upload_ids uuid[] not null default '{}',
      cost bigint not null check (cost > 0),
      idempotency_key text,
      request_hash text not null,
      error_code text,
      shortfall bigint,
      attempt integer not null default 0,
      lease uuid,
      hold_expires_at timestamptz not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      queued_at timestamptz,
      started_at timestamptz,
      finished_at timestamptz
    )`.execute(db);
  await sql`create unique index generations_idempotency on generations (user_id, idempotency_key) where idempotency_key is not null`.execute(db);
  await sql`create index generations_user on generations (user_id, id desc)`.execute(db);
  await sql`create index generations_active on generations (user_id) where status = 'running'`.execute(db);
  await sql`create index generations_open on generations (hold_expires_at) where status in ('reserving','queued','running')`.execute(db);

  await sql`
    create table images (
      id uuid primary key,
      generation_id uuid not null references generations (id) on delete cascade,
      user_id uuid not null,
      idx integer not null,
      width integer not null,
      height integer not null,
      bytes integer not null,
      sha256 text not null,
      storage_key text not null,
      thumb_key text not null,
      thumb_sha256 text not null,
      published_at timestamptz,
      created_at timestamptz not null default now(),
      unique (generation_id, idx)
    )`.execute(db);
  await sql`create index images_user on images (user_id)`.execute(db);
  await sql`create index images_gallery on images (published_at desc, id desc) where published_at is not null`.execute(db);

  await sql`
    create table uploads (
      id uuid primary key,
      user_id uuid not null,
      sha256 text not null,
      mime text not null,
      width integer not null,
      height integer not null,
      bytes integer not null,
      storage_key text not null,
      created_at timestamptz not null default now(),
      expires_at timestamptz,
      unique (user_id, sha256)
    )`.execute(db);
  await sql`create index uploads_expiry on uploads (expires_at) where expires_at is not null`.execute(db);

  // Only what the gallery shows next to a published image; nothing else about the person.
  await sql`
    create table user_profiles (
      user_id uuid primary key,
      display_name text not null,
      updated_at timestamptz not null default now()
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table user_profiles`.execute(db);
  await sql`drop table uploads`.execute(db);
  await sql`drop table images`.execute(db);
  await sql`drop table generations`.execute(db);
}
