import type { TestProject } from 'vitest/node';
import { removeTestRun } from './cleanup.js';

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
    await removeTestRun(process.env.DATABASE_URL!, process.env.REDIS_URL!, runId);
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
