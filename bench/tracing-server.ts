// One process of the tracing benchmark (tracing.ts): a service app (buildApp) whose route does what
// a typical read does — one SQL query and one Redis GET — started the way the services start:
// instrument() first, everything else imported after it. The OTEL_* variables it is given decide
// whether the instrumentations run and whether spans are exported.
import { instrument } from '@imlab/http/instrument';

instrument('bench-tracing');
const { default: pg } = await import('pg');
const { Redis } = await import('ioredis');
const { buildApp } = await import('@imlab/http');
const { createLogger } = await import('@imlab/logger');

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const key = `${process.env.BENCH_TAG ?? 'bench'}:tracing`;
await redis.set(key, 'v', 'EX', 600);
const app = await buildApp({ service: 'bench-tracing', logger: createLogger({ service: 'bench-tracing', level: 'warn' }) });
app.get('/v1/probe', async () => {
  const { rows } = await pool.query<{ n: number }>('select $1::int as n', [1]);
  return { n: rows[0]!.n, v: await redis.get(key) };
});
app.get('/cpu', async () => {
  const { user, system } = process.cpuUsage();
  return { us: user + system };
});
await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`${(app.server.address() as { port: number }).port}\n`);
process.on('SIGTERM', () => {
  void app.close().then(async () => {
    await pool.end();
    redis.disconnect();
    process.exit(0);
  });
});
