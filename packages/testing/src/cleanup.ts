import pg from 'pg';
import { Redis } from 'ioredis';

/**
 * Removes what one test run left on the servers: its databases (`imlabt_<runId>_…`, dropped even
 * with sessions still open) and its Redis keys (prefixes `{imlabt_<runId>…`). The test suite's
 * teardown runs it, and so do benchmarks that start the end-to-end system under a run id of their own.
 */
export async function removeTestRun(databaseUrl: string, redisUrl: string, runId: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const dbs = await client.query<{ datname: string }>(`select datname from pg_database where datname like $1`, [`imlabt_${runId}_%`]);
    for (const { datname } of dbs.rows) await client.query(`drop database if exists "${datname}" with (force)`);
  } finally {
    await client.end();
  }
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{imlabt_${runId}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
