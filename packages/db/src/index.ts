import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { Migrator, FileMigrationProvider } from 'kysely/migration';
import type { RawBuilder, Transaction } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export { sql };
export type { Kysely, RawBuilder, Transaction };
export * from './purge-tombstones.js';

/** Repository functions take this first: the caller owns the transaction. */
export type Db<DB> = Kysely<DB> | Transaction<DB>;

const INT8_OID = 20;

/** bigint columns come back as JS numbers; a value beyond 2^53 is an error, never a silent rounding. */
function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${value} exceeds the safe integer range`);
  return n;
}

export interface CreateDbOptions {
  max?: number;
  applicationName?: string;
  statementTimeoutMs?: number;
  /** Called when an idle pooled connection fails (it is replaced on next use). */
  onIdleError?: (err: Error) => void;
}

export function createDb<DB>(connectionString: string, opts: CreateDbOptions = {}): Kysely<DB> {
  const pool = new pg.Pool({
    connectionString,
    max: opts.max ?? 10,
    application_name: opts.applicationName,
    statement_timeout: opts.statementTimeoutMs ?? 30_000,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client can be cut off by the server (restart, failover, a dropped database); the pool
  // replaces it. Without a listener that would be an uncaught 'error' event and kill the process.
  pool.on('error', (err) => opts.onIdleError?.(err));
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}

/** Creates the database named in `url` when it does not exist (development and tests). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!/^[a-z0-9_]+$/i.test(name)) throw new Error(`refusing to create database with unusual name "${name}"`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) {
      try {
        await client.query(`create database "${name}"`);
      } catch (err) {
        // another process created it between our check and create
        if ((err as { code?: string }).code !== '42P04' && (err as { code?: string }).code !== '23505') throw err;
      }
    }
  } finally {
    await client.end();
  }
}

/**
 * Least privilege, run by a service's migrate command with an admin connection: the login role of
 * `url` (its user and password) exists and owns the database of `url`, which nobody else may
 * connect to (CONNECT and TEMP revoked from PUBLIC), and everything already in its public schema
 * (an install from before per-service roles) is handed to it. The running service then connects as
 * that role: rights on its own database only. Rerunning it sets the role's password again (rotation).
 */
export async function provisionDatabase(adminUrl: string, url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const role = decodeURIComponent(target.username);
  const password = decodeURIComponent(target.password);
  if (!/^[a-z0-9_]+$/i.test(name)) throw new Error(`refusing to provision database with unusual name "${name}"`);
  if (!/^[a-z][a-z0-9_]*$/.test(role)) throw new Error(`refusing to provision role with unusual name "${role}" (lower case letters, digits, _)`);
  if (!password) throw new Error(`DATABASE_URL names role "${role}" without a password: the migrate command sets it from there`);
  const admin = new URL(adminUrl);
  const adminRole = decodeURIComponent(admin.username);
  if (adminRole === role) throw new Error('DATABASE_URL must name the service\'s own role, not the admin of DATABASE_ADMIN_URL');
  admin.pathname = '/postgres';
  const ignoreRace = (err: unknown, ...codes: string[]) => {
    // another replica's migrate created it between our check and create
    if (!codes.includes((err as { code?: string }).code ?? '')) throw err;
  };
  const server = new pg.Client({ connectionString: admin.toString() });
  await server.connect();
  try {
    const literal = server.escapeLiteral(password);
    const found = await server.query('select 1 from pg_roles where rolname = $1', [role]);
    if (found.rowCount === 0) await server.query(`create role "${role}" login password ${literal}`).catch((err) => ignoreRace(err, '42710', '23505'));
    await server.query(`alter role "${role}" with login nosuperuser nocreatedb nocreaterole password ${literal}`);
    const db = await server.query('select 1 from pg_database where datname = $1', [name]);
    if (db.rowCount === 0) await server.query(`create database "${name}" owner "${role}"`).catch((err) => ignoreRace(err, '42P04', '23505'));
    await server.query(`alter database "${name}" owner to "${role}"`);
    await server.query(`revoke all on database "${name}" from public`);
  } finally {
    await server.end();
  }
  admin.pathname = `/${name}`;
  const inside = new pg.Client({ connectionString: admin.toString() });
  await inside.connect();
  try {
    await inside.query(
      `do $$ declare r record; begin
        for r in select c.oid::regclass as rel from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm') and c.relowner <> $r$${role}$r$::regrole loop
          execute format('alter table %s owner to %I', r.rel, $r$${role}$r$);
        end loop;
        for r in select c.oid::regclass as rel from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' and c.relkind = 'S' and c.relowner <> $r$${role}$r$::regrole
            and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype in ('a', 'i')) loop
          execute format('alter sequence %s owner to %I', r.rel, $r$${role}$r$);
        end loop;
        for r in select p.oid::regprocedure as fn from pg_proc p join pg_namespace n on n.oid = p.pronamespace
          where n.nspname = 'public' and p.proowner <> $r$${role}$r$::regrole loop
          execute format('alter function %s owner to %I', r.fn, $r$${role}$r$);
        end loop;
      end $$`,
    );
  } finally {
    await inside.end();
  }
}

export async function dropDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await client.end();
  }
}

/** Combines frozen migrations shipped by shared packages (outbox, inbox) with a service's folder. */
class CombinedProvider implements MigrationProvider {
  private readonly folder: string | undefined;
  private readonly extra: Record<string, Migration>;
  constructor(
    folder: string | undefined,
    extra: Record<string, Migration>,
  ) {
    this.folder = folder;
    this.extra = extra;
  }
  async getMigrations(): Promise<Record<string, Migration>> {
    const own = this.folder ? await new FileMigrationProvider({ fs, path, migrationFolder: this.folder }).getMigrations() : {};
    return { ...this.extra, ...own };
  }
}

export interface MigrateOptions {
  /** Absolute path of the service's `migrations/` folder. */
  folder?: string;
  /** Migrations from shared packages; their names sort before the service's own (`0000-…`). */
  extra?: Record<string, Migration>;
}

/** Runs every pending migration; throws with the failing migration's name. */
export async function migrateToLatest(db: Kysely<unknown>, opts: MigrateOptions): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new CombinedProvider(opts.folder, opts.extra ?? {}) });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error) {
    const err = new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed: ${(error as Error).message ?? String(error)}`);
    (err as Error & { cause?: unknown }).cause = error;
    throw err;
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Liveness of the pool for /readyz. */
export async function pingDb(db: Kysely<unknown>): Promise<void> {
  await sql`select 1`.execute(db);
}

export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string } | undefined)?.code === '23505';
}
