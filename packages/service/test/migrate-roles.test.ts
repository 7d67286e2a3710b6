import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createLogger } from '@imlab/logger';
import { infra } from '@imlab/testing';
import { runMigrations } from '../src/index.js';

// One database role per service (docs/operations.md, "Database roles"): the migrate command,
// given DATABASE_ADMIN_URL, creates the service's role and database; the service's role owns its
// database and cannot even connect to another service's.
const logger = createLogger({ service: 'test', level: 'silent' });
const folder = fileURLToPath(new URL('./fixtures/migrations', import.meta.url));
const tag = `${infra().runId}_${randomBytes(3).toString('hex')}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
const admin = infra().databaseUrl;
const created: { role: string; database: string }[] = [];

function service(name: string) {
  const role = `imlabt_role_${name}_${tag}`;
  const database = `imlabt_${tag}_${name}`;
  created.push({ role, database });
  const url = new URL(admin);
  url.username = role;
  url.password = `pw-${randomBytes(8).toString('hex')}`;
  url.pathname = '/postgres';
  return { role, database, databaseUrl: url.toString(), at: (db: string) => Object.assign(new URL(url), { pathname: `/${db}` }).toString() };
}

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}
const asAdmin = (db: string, text: string) => query(Object.assign(new URL(admin), { pathname: `/${db}` }).toString(), text);

afterAll(async () => {
  for (const { database } of created) await asAdmin('postgres', `drop database if exists "${database}" with (force)`);
  for (const { role } of created) await asAdmin('postgres', `drop role if exists "${role}"`);
});

describe('migrate with DATABASE_ADMIN_URL', () => {
  it("creates the service's role and database; the role owns what the migrations create and reaches no other database", async () => {
    const a = service('a');
    const b = service('b');
    for (const s of [a, b]) await runMigrations({ databaseUrl: s.databaseUrl, databaseName: s.database, migrationsFolder: folder, logger, adminUrl: admin });

    const owners = await asAdmin(a.database, `select tablename, tableowner from pg_tables where schemaname = 'public' order by tablename`);
    expect(owners.length).toBeGreaterThanOrEqual(3); // things, outbox, inbox (+ Kysely's own)
    expect(new Set(owners.map((o) => o.tableowner))).toEqual(new Set([a.role]));
    expect(await query(a.at(a.database), `insert into things (name) values ('x') returning name`)).toEqual([{ name: 'x' }]);

    // Not another service's database, and no power beyond its own.
    await expect(query(a.at(b.database), 'select 1')).rejects.toMatchObject({ code: '42501' });
    const [flags] = await asAdmin('postgres', `select rolsuper, rolcreatedb, rolcreaterole from pg_roles where rolname = '${a.role}'`);
    expect(flags).toEqual({ rolsuper: false, rolcreatedb: false, rolcreaterole: false });
    await expect(query(a.at(a.database), `create database "imlabt_${tag}_nope"`)).rejects.toMatchObject({ code: '42501' });

    // A second run (a new version, a rotated password) changes nothing else.
    await runMigrations({ databaseUrl: a.databaseUrl, databaseName: a.database, migrationsFolder: folder, logger, adminUrl: admin });
    expect(await query(a.at(a.database), 'select count(*)::int as n from things')).toEqual([{ n: 1 }]);
  });

  it('hands an existing database and its tables (an install from before per-service roles) to the role', async () => {
    const c = service('c');
    await asAdmin('postgres', `create database "${c.database}"`);
    await asAdmin(c.database, `create table legacy (id bigint generated always as identity primary key, note text)`);
    await runMigrations({ databaseUrl: c.databaseUrl, databaseName: c.database, migrationsFolder: folder, logger, adminUrl: admin });
    expect(await query(c.at(c.database), `insert into legacy (note) values ('kept') returning id::int`)).toEqual([{ id: 1 }]);
    const [db] = await asAdmin('postgres', `select pg_get_userbyid(datdba) as owner from pg_database where datname = '${c.database}'`);
    expect(db).toEqual({ owner: c.role });
  });

  it('refuses a DATABASE_URL without its own role and password', async () => {
    const d = service('d');
    const noPassword = Object.assign(new URL(d.databaseUrl), { password: '' }).toString();
    await expect(runMigrations({ databaseUrl: noPassword, databaseName: d.database, migrationsFolder: folder, logger, adminUrl: admin })).rejects.toThrow(/without a password/);
    await expect(runMigrations({ databaseUrl: admin, databaseName: d.database, migrationsFolder: folder, logger, adminUrl: admin })).rejects.toThrow(/own role|password/);
  });
});
