import pg from 'pg';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';

const started: { stop(): Promise<unknown> }[] = [];

/**
 * Uses DATABASE_URL / REDIS_URL when set (CI and this machine); otherwise starts throwaway
 * containers with testcontainers (laptops with Docker). Test files create their own databases
 * and Redis prefixes under a run id, which teardown removes.
 */
export default async function setup(project: TestProject) {
  const runId = `r${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
  if (!process.env.DATABASE_URL) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const pgc = await new PostgreSqlContainer('postgres:17-alpine').withCommand(['postgres', '-c', 'fsync=off', '-c', 'max_connections=400']).start();
    started.push(pgc);
    process.env.DATABASE_URL = pgc.getConnectionUri();
  }
  if (!process.env.REDIS_URL) {
    const { RedisContainer } = await import('@testcontainers/redis');
    const rc = await new RedisContainer('redis:7-alpine').withCommand(['redis-server', '--maxmemory-policy', 'noeviction']).start();
    started.push(rc);
    process.env.REDIS_URL = rc.getConnectionUrl();
  }
  process.env.IMLAB_TEST_RUN = runId;
  project.provide('databaseUrl', process.env.DATABASE_URL);
  project.provide('redisUrl', process.env.REDIS_URL);
  project.provide('runId', runId);

  return async () => {
    const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    const dbs = await client.query<{ datname: string }>(`select datname from pg_database where datname like $1`, [`imlabt_${runId}_%`]);
    for (const { datname } of dbs.rows) await client.query(`drop database if exists "${datname}" with (force)`);
    await client.end();
    const redis = new Redis(process.env.REDIS_URL!);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{imlabt_${runId}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
    for (const c of started) await c.stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    redisUrl: string;
    runId: string;
  }
}
