/**
 * Process wiring of a service, apart from messaging (@imlab/queue): its database created and
 * migrated, its pool, its Bus, readiness checks and the `migrate` command.
 */
import { fileURLToPath } from 'node:url';
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import { createDb, ensureDatabase, migrateToLatest, pingDb, provisionDatabase } from '@imlab/db';
import { databaseUrlFor } from '@imlab/config';
import type { Logger } from '@imlab/logger';
import { assertRedisReady, Bus, queueMigrations, type QueueTables } from '@imlab/queue';

export interface ServiceContextOptions {
  service: string;
  logger: Logger;
  /** Postgres server URL; the database name is replaced by `databaseName`. */
  databaseUrl: string;
  databaseName: string;
  redisUrl: string;
  queuePrefix: string;
  /** The service's migrations folder (absolute). */
  migrationsFolder: string;
  /** Create the database if missing and migrate at start-up (development, tests). */
  migrate?: boolean;
  poolSize?: number;
  extraMigrations?: Record<string, Migration>;
  lockDuration?: number;
  stalledInterval?: number;
}

export interface ServiceContext<DB extends QueueTables> {
  db: Kysely<DB>;
  bus: Bus<DB>;
  databaseUrl: string;
  readiness: Record<string, () => Promise<void>>;
  /** Stops taking queue jobs (the running ones finish); the relay keeps publishing until close. */
  stopIntake(): Promise<void>;
  close(): Promise<void>;
}

/**
 * What every service needs before it can serve: Redis checked (reachable, noeviction), its own
 * database (created and migrated in development), a pool and a Bus. Fails fast with one message.
 */
export async function createServiceContext<DB extends QueueTables>(opts: ServiceContextOptions): Promise<ServiceContext<DB>> {
  await assertRedisReady(opts.redisUrl);
  const databaseUrl = databaseUrlFor(opts.databaseUrl, opts.databaseName);
  if (opts.migrate) {
    await ensureDatabase(databaseUrl);
    const migrator = createDb<unknown>(databaseUrl, { max: 1 });
    try {
      const applied = await migrateToLatest(migrator, { folder: opts.migrationsFolder, extra: { ...queueMigrations, ...opts.extraMigrations } });
      if (applied.length) opts.logger.info({ applied }, 'migrations applied');
    } finally {
      await migrator.destroy();
    }
  }
  const db = createDb<DB>(databaseUrl, {
    max: opts.poolSize ?? 10,
    applicationName: opts.service,
    onIdleError: (err) => opts.logger.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'idle Postgres connection lost'),
  });
  const bus = new Bus<DB>({
    service: opts.service,
    db,
    databaseUrl,
    redisUrl: opts.redisUrl,
    prefix: opts.queuePrefix,
    logger: opts.logger,
    ...(opts.lockDuration ? { lockDuration: opts.lockDuration } : {}),
    ...(opts.stalledInterval ? { stalledInterval: opts.stalledInterval } : {}),
  });
  return {
    db,
    bus,
    databaseUrl,
    readiness: { postgres: () => pingDb(db as unknown as Kysely<unknown>), redis: () => bus.ping() },
    stopIntake: () => bus.stopConsuming(),
    async close() {
      await bus.close();
      await db.destroy();
    },
  };
}

/**
 * The `migrate` command of a service: create the database if missing, apply every migration. With
 * an admin connection (DATABASE_ADMIN_URL) it first provisions the service's own role and database
 * (provisionDatabase), and the migrations then run as that role, so it owns what they create.
 */
export async function runMigrations(opts: { databaseUrl: string; databaseName: string; migrationsFolder: string; logger: Logger; adminUrl?: string }): Promise<string[]> {
  const url = databaseUrlFor(opts.databaseUrl, opts.databaseName);
  if (opts.adminUrl) await provisionDatabase(opts.adminUrl, url);
  else await ensureDatabase(url);
  const db = createDb<unknown>(url, { max: 1 });
  try {
    const applied = await migrateToLatest(db, { folder: opts.migrationsFolder, extra: queueMigrations });
    opts.logger.info({ database: opts.databaseName, applied }, 'migrated');
    return applied;
  } finally {
    await db.destroy();
  }
}

/** The variables every service's config carries (baseEnv + DATABASE_NAME). */
export interface StandardServiceConfig {
  NODE_ENV: string;
  LOG_LEVEL: string;
  DATABASE_URL: string;
  DATABASE_NAME: string;
  DATABASE_ADMIN_URL?: string;
  REDIS_URL: string;
  QUEUE_PREFIX: string;
  DB_POOL_SIZE: number;
  QUEUE_LOCK_MS?: number;
  QUEUE_STALLED_INTERVAL_MS?: number;
}

/**
 * `createServiceContext` from a service's parsed config: migrates at start-up outside
 * production, pool sized by DB_POOL_SIZE unless overridden (tests pass a small pool).
 */
export function contextFromConfig<DB extends QueueTables>(
  service: string,
  config: StandardServiceConfig,
  logger: Logger,
  migrations: URL,
  overrides: Partial<Pick<ServiceContextOptions, 'migrate' | 'poolSize' | 'extraMigrations'>> = {},
): Promise<ServiceContext<DB>> {
  return createServiceContext<DB>({
    service,
    logger,
    databaseUrl: config.DATABASE_URL,
    databaseName: config.DATABASE_NAME,
    redisUrl: config.REDIS_URL,
    queuePrefix: config.QUEUE_PREFIX,
    migrationsFolder: fileURLToPath(migrations),
    migrate: overrides.migrate ?? config.NODE_ENV !== 'production',
    poolSize: overrides.poolSize ?? config.DB_POOL_SIZE,
    ...(config.QUEUE_LOCK_MS ? { lockDuration: config.QUEUE_LOCK_MS } : {}),
    ...(config.QUEUE_STALLED_INTERVAL_MS ? { stalledInterval: config.QUEUE_STALLED_INTERVAL_MS } : {}),
    ...(overrides.extraMigrations ? { extraMigrations: overrides.extraMigrations } : {}),
  });
}

/** A service's `migrate` command: `await migrateFromConfig(config, new URL('../migrations', import.meta.url), logger)`. */
export function migrateFromConfig(config: StandardServiceConfig, migrations: URL, logger: Logger): Promise<string[]> {
  return runMigrations({
    databaseUrl: config.DATABASE_URL,
    databaseName: config.DATABASE_NAME,
    migrationsFolder: fileURLToPath(migrations),
    logger,
    ...(config.DATABASE_ADMIN_URL ? { adminUrl: config.DATABASE_ADMIN_URL } : {}),
  });
}
