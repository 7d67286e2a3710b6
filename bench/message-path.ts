/**
 * The message path alone: `ledger.grant` commands committed to the ledger's outbox by CLIENTS
 * concurrent writers, relayed to BullMQ by the real service process (src/main.ts), applied by its
 * inbox consumer. Prints commands/s end to end and where each message spent its time:
 *
 *   written → relayed   (outbox.created_at → outbox.sent_at: the relay's wake-up and batch)
 *   relayed → applied   (outbox.sent_at → inbox.processed_at: BullMQ wait + the handler's transaction)
 *
 *   pnpm --filter @imlab/bench message-path     (BENCH_COMMANDS=3000, BENCH_CLIENTS=32, BENCH_PROFILE=dir for a CPU profile of the service)
 *
 * A probe for docs/benchmarks.md's message-path section, not a test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@imlab/logger';
import { createServiceContext } from '@imlab/service';
import { dropDatabase, sql } from '@imlab/db';
import { databaseUrlFor } from '@imlab/config';
import type { DB } from '../services/credits-ledger/src/db.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const tsx = path.join(repo, 'node_modules/.bin/tsx');
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 3000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 32);
const CONSUMERS = Number(process.env.BENCH_CONSUMERS ?? CLIENTS);
const SERVER = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const log = createLogger({ service: 'bench', level: 'info' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const tag = randomBytes(3).toString('hex');
const databaseName = `imlab_bench_mp_${tag}`;
const prefix = `bench-mp-${tag}`;
const ctx = await createServiceContext<DB>({
  service: 'credits-ledger',
  logger: log,
  databaseUrl: SERVER,
  databaseName,
  redisUrl: REDIS,
  queuePrefix: prefix,
  migrationsFolder: fileURLToPath(new URL('../services/credits-ledger/migrations', import.meta.url)),
  migrate: true,
  poolSize: CLIENTS,
});
let service: ChildProcess | undefined;
try {
  const users = Array.from({ length: 2000 }, () => randomUUID());
  const port = 20000 + Math.floor(Math.random() * 20000);
  service = spawn(tsx, [path.join(repo, 'services/credits-ledger/src/main.ts')], {
    cwd: path.join(repo, 'services/credits-ledger'),
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      PORT: String(port),
      METRICS_PORT: '0',
      DATABASE_URL: SERVER,
      REDIS_URL: REDIS,
      DATABASE_NAME: databaseName,
      QUEUE_PREFIX: prefix,
      DB_POOL_SIZE: String(CLIENTS),
      INBOX_CONCURRENCY: String(CONSUMERS),
      ...(process.env.BENCH_PROFILE ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE}` } : {}),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; ; i++) {
    if (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok).catch(() => false)) break;
    if (i > 600) throw new Error('ledger service did not become ready');
    await sleep(100);
  }
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < COMMANDS) {
        const i = next++;
        await ctx.db.transaction().execute((tx) =>
          ctx.bus.send(tx, 'ledger.grant', { idempotencyKey: randomUUID(), userId: users[i % users.length]!, amount: 1, source: 'purchase', reference: 'ord_mp' }),
        );
      }
    }),
  );
  const written = Date.now();
  for (;;) {
    const n = Number((await sql<{ n: string }>`select count(*) as n from inbox where name = 'ledger.grant'`.execute(ctx.db)).rows[0]!.n);
    if (n >= COMMANDS) break;
    if (Date.now() - started > 600_000) throw new Error(`only ${n} of ${COMMANDS} applied`);
    await sleep(20);
  }
  const done = Date.now();
  const stages = (
    await sql<{ relay_p50: number; relay_p99: number; apply_p50: number; apply_p99: number; total_p50: number; total_p99: number }>`
      select
        percentile_cont(0.5) within group (order by extract(epoch from o.sent_at - o.created_at)) * 1000 as relay_p50,
        percentile_cont(0.99) within group (order by extract(epoch from o.sent_at - o.created_at)) * 1000 as relay_p99,
        percentile_cont(0.5) within group (order by extract(epoch from i.processed_at - o.sent_at)) * 1000 as apply_p50,
        percentile_cont(0.99) within group (order by extract(epoch from i.processed_at - o.sent_at)) * 1000 as apply_p99,
        percentile_cont(0.5) within group (order by extract(epoch from i.processed_at - o.created_at)) * 1000 as total_p50,
        percentile_cont(0.99) within group (order by extract(epoch from i.processed_at - o.created_at)) * 1000 as total_p99
      from outbox o join inbox i on i.message_id = o.id::text
      where o.name = 'ledger.grant'`.execute(ctx.db)
  ).rows[0]!;
  const round = (x: number) => Math.round(Number(x));
  log.info(
    {
      commands: COMMANDS,
      clients: CLIENTS,
      perSecond: Math.round(COMMANDS / ((done - started) / 1000)),
      writtenPerSecond: Math.round(COMMANDS / ((written - started) / 1000)),
      ms: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, round(v)])),
    },
    'message path',
  );
} finally {
  if (service) {
    const exited = new Promise((r) => service!.once('exit', r));
    service.kill('SIGTERM');
    await exited;
  }
  await ctx.close();
  await dropDatabase(databaseUrlFor(SERVER, databaseName)).catch(() => undefined);
}
