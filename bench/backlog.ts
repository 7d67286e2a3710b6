/**
 * A render backlog (#22 b): one heavy user with BENCH_BACKLOG (100,000) queued generations, and a
 * light user who asks for one more. Two ways, side by side in one run:
 *
 *   queue-all  every render job on the queue at once (what generation did before fair dispatch):
 *              100,000 generation.render messages in generation's outbox, published by the real
 *              relay (`Bus.flush`, the relay's loop) to `generation-render` — the relay's catch-up
 *              time, and Redis memory per waiting job (INFO used_memory before/after, divided; the
 *              Redis server is shared, so also MEMORY USAGE summed over this run's own keys);
 *   fair       the same 100,000 generations through fair dispatch (Lifecycle.dispatchIn, migration
 *              0007): at most RENDER_USER_QUEUED of a person's jobs on the queue, the rest wait in
 *              the table and go out as theirs end.
 *
 * In both, a real render worker process (src/worker.ts, RENDER_CONCURRENCY=4, RENDER_USER_CAP=2:
 * the cap binds; LOCAL_RENDER_MS=0) works on the backlog; after 7 s the light user's generation is
 * queued the real way (its row and Lifecycle.dispatchIn in one transaction, as onHoldPlaced does,
 * then the relay) and we measure how long it waits to start (generations.started_at − queued_at),
 * up to BENCH_FAIR_TIMEOUT_S. While it waits, the jobs ahead of it in the wait list and how fast the
 * worker gets past them are sampled, so a wait beyond the timeout is still a number.
 *
 *   pnpm --filter @imlab/bench backlog
 *
 * Private database and queue prefix; both, and every Redis key of the prefix, are removed at the end.
 * Writes the "Render backlog" section of docs/benchmarks.md.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { createLogger } from '@imlab/logger';
import { connectRedis, type Redis } from '@imlab/queue';
import type { ServiceContext } from '@imlab/service';
import { dropDatabase, sql } from '@imlab/db';
import { databaseUrlFor } from '@imlab/config';
import { Registry } from 'prom-client';
import type { DB } from '../services/generation/src/db.js';
import { Lifecycle } from '../services/generation/src/generations/lifecycle.js';
import { StatusEvents } from '../services/generation/src/generations/status-events.js';
import { createMetrics } from '../services/generation/src/metrics.js';
import { SERVER, REDIS, repo, sleep, ms, machine, writeSection, freePort, generationContext, waitReady } from './support/common.js';

const log = createLogger({ service: 'bench', level: 'info' });
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 100_000);
const FAIR_TIMEOUT_S = Number(process.env.BENCH_FAIR_TIMEOUT_S ?? 60);
const tag = randomBytes(3).toString('hex');
const prefix = `{imlab_bench_backlog_${tag}}`;
const tsxLoader = pathToFileURL(path.join(repo, 'node_modules/tsx/dist/loader.mjs')).href;

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
}

/** Every key of this run's prefix and the bytes Redis says each one takes (MEMORY USAGE, all samples). */
async function ownKeys(redis: Redis): Promise<{ keys: number; bytes: number }> {
  let cursor = '0';
  let keys = 0;
  let bytes = 0;
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 2000);
    cursor = next;
    if (batch.length) {
      const p = redis.pipeline();
      for (const k of batch) p.call('MEMORY', 'USAGE', k, 'SAMPLES', '0');
      for (const [, v] of (await p.exec()) ?? []) bytes += Number(v ?? 0);
      keys += batch.length;
    }
  } while (cursor !== '0');
  return { keys, bytes };
}

async function deleteOwnKeys(redis: Redis): Promise<void> {
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 2000);
    cursor = next;
    if (batch.length) await redis.del(...batch);
  } while (cursor !== '0');
}

/**
 * `n` queued generations of `userId`. queue-all: each with its render message in the outbox and
 * marked dispatched (as before fair dispatch). fair: undispatched, then the real dispatch.
 */
async function enqueueBacklog(ctx: ServiceContext<DB>, lifecycle: Lifecycle, userId: string, n: number, mode: Mode): Promise<void> {
  const chunk = 10_000;
  for (let done = 0; done < n; done += chunk) {
    const k = Math.min(chunk, n - done);
    const gens = Array.from({ length: k }, () => uuidv7());
    const msgs = Array.from({ length: k }, () => uuidv7());
    await ctx.db.transaction().execute(async (tx) => {
      await sql`
        insert into generations (id, user_id, status, prompt, model, width, height, count, seed, cost, request_hash, hold_expires_at, queued_at, dispatched_at)
        select g, ${userId}::uuid, 'queued', 'a lighthouse at dusk', 'imlab-draft', 512, 512, 1, 42, 1, 'bench', now() + interval '1 day', now(),
               case when ${mode} = 'queue-all' then now() end
        from unnest(${gens}::uuid[]) g`.execute(tx);
      if (mode === 'queue-all') {
        await sql`
          insert into outbox (id, name, payload, targets)
          select m, 'generation.render', jsonb_build_object('generationId', g, 'userId', ${userId}::text), array['generation-render']
          from unnest(${msgs}::uuid[], ${gens}::uuid[]) as x(m, g)`.execute(tx);
      }
    });
  }
  if (mode === 'fair') await ctx.db.transaction().execute((tx) => lifecycle.dispatchIn(tx, userId));
}

type Mode = 'queue-all' | 'fair';

interface Scenario {
  mode: Mode;
  backlog: number;
  relayS: number;
  relayPerS: number;
  waiting: number;
  infoBytesPerJob: number;
  keyBytesPerJob: number;
  keys: number;
  light: { waitedMs: number | null; aheadAtEnqueue: number; passedPerS: number; projectedS: number; heavyRendersPerS: number };
}

async function scenario(ctx: ServiceContext<DB>, lifecycle: Lifecycle, redis: Redis, n: number, mode: Mode, workerEnv: Record<string, string>): Promise<Scenario> {
  const queue = ctx.bus.queue('generation-render');
  const heavy = uuidv7();
  const before = await usedMemory(redis);
  await enqueueBacklog(ctx, lifecycle, heavy, n, mode);
  log.info({ backlog: n, mode }, 'backlog written; relaying');
  const t0 = performance.now();
  const relayed = await ctx.bus.flush();
  const relayS = (performance.now() - t0) / 1000;
  const waiting = await queue.getWaitingCount();
  const expected = mode === 'queue-all' ? n : Math.min(n, Number(workerEnv.RENDER_USER_QUEUED));
  if (relayed !== expected || waiting !== expected) throw new Error(`relayed ${relayed}, waiting ${waiting}, expected ${expected}`);
  const after = await usedMemory(redis);
  const own = await ownKeys(redis);
  log.info({ relayS, waiting, infoDelta: after - before, own }, 'backlog in Redis');

  // A render worker works through the backlog; the light user comes after it has settled.
  const port = await freePort();
  const worker = spawn(process.execPath, ['--import', tsxLoader, path.join(repo, 'services/generation/src/worker.ts')], {
    cwd: path.join(repo, 'services/generation'),
    env: { PATH: process.env.PATH ?? '', ...workerEnv, WORKER_PORT: String(port), WORKER_METRICS_PORT: '0' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await waitReady(port, worker);
    // The heavy user's own rate, over the same 6 s in both ways (the worker alone with the backlog).
    await sleep(1000);
    const settle0 = await succeeded(ctx, heavy);
    const settleT = performance.now();
    await sleep(6000);
    const heavyRendersPerS = ((await succeeded(ctx, heavy)) - settle0) / ((performance.now() - settleT) / 1000);
    const light = uuidv7();
    const lightGen = uuidv7();
    const tLight = Date.now();
    await ctx.db.transaction().execute(async (tx) => {
      await sql`
        insert into generations (id, user_id, status, prompt, model, width, height, count, seed, cost, request_hash, hold_expires_at, queued_at)
        values (${lightGen}, ${light}, 'queued', 'a small boat', 'imlab-draft', 512, 512, 1, 7, 1, 'bench', now() + interval '1 day', now())`.execute(tx);
      // What onHoldPlaced does after queueing: the real dispatch (a light user always has a free slot).
      if ((await lifecycle.dispatchIn(tx, light)) !== 1) throw new Error('the light user\'s generation was not dispatched');
    });
    const msgId = (await sql<{ id: string }>`select id from outbox where payload->>'generationId' = ${lightGen}`.execute(ctx.db)).rows[0]!.id;
    await ctx.bus.flush();
    const ahead = async () => {
      const len = await redis.llen(queue.keys.wait!);
      const pos = (await redis.call('LPOS', queue.keys.wait!, msgId)) as number | null;
      return pos === null ? 0 : len - 1 - pos; // BullMQ pushes at the head and takes from the tail
    };
    const aheadAtEnqueue = await ahead();
    let waitedMs: number | null = null;
    let aheadNow = aheadAtEnqueue;
    const deadline = tLight + FAIR_TIMEOUT_S * 1000;
    while (Date.now() < deadline) {
      const row = (await sql<{ started: Date | null; queued: Date }>`select started_at as started, queued_at as queued from generations where id = ${lightGen}`.execute(ctx.db)).rows[0]!;
      if (row.started) {
        waitedMs = row.started.getTime() - row.queued.getTime();
        break;
      }
      aheadNow = await ahead();
      await sleep(250);
    }
    const elapsedS = (Date.now() - tLight) / 1000;
    const passedPerS = (aheadAtEnqueue - aheadNow) / elapsedS;
    const result = {
      waitedMs,
      aheadAtEnqueue,
      passedPerS,
      projectedS: waitedMs !== null ? waitedMs / 1000 : passedPerS > 0 ? aheadAtEnqueue / passedPerS : Infinity,
      heavyRendersPerS,
    };
    log.info({ backlog: n, mode, ...result }, 'light user');
    return { mode, backlog: n, relayS, relayPerS: n / relayS, waiting, infoBytesPerJob: (after - before) / n, keyBytesPerJob: own.bytes / n, keys: own.keys, light: result };
  } finally {
    worker.kill('SIGTERM');
    await Promise.race([new Promise((r) => worker.once('exit', r)), sleep(15_000)]);
    if (worker.exitCode === null) worker.kill('SIGKILL');
    // The renders' capture and finished messages went to queues nobody consumes here: all cleared.
    for (const q of ['generation-render', 'credits-ledger', 'generation'] as const) await ctx.bus.queue(q).obliterate({ force: true });
    await sql`delete from outbox`.execute(ctx.db);
    await sql`delete from generations`.execute(ctx.db);
  }
}

async function succeeded(ctx: ServiceContext<DB>, userId: string): Promise<number> {
  return (await sql<{ n: number }>`select count(*)::int as n from generations where user_id = ${userId} and status = 'succeeded'`.execute(ctx.db)).rows[0]!.n;
}


async function main() {
  const start = machine();
  const databaseName = `imlab_bench_backlog_${tag}`;
  const storageDir = await mkdtemp(path.join(tmpdir(), 'imlab-backlog-'));
  const ctx = await generationContext(databaseName, prefix, 4);
  const redis = connectRedis(REDIS, 'bench-backlog');
  const workerEnv = {
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATABASE_URL: SERVER,
    DATABASE_NAME: databaseName,
    REDIS_URL: REDIS,
    QUEUE_PREFIX: prefix,
    STORAGE_DIR: storageDir,
    LOCAL_RENDER_MS: '0',
    RENDER_CONCURRENCY: process.env.BENCH_RENDER_CONCURRENCY ?? '4',
    RENDER_USER_CAP: '2',
    RENDER_USER_QUEUED: process.env.BENCH_USER_QUEUED ?? '4',
  };
  const lifecycle = new Lifecycle({
    db: ctx.db,
    bus: ctx.bus,
    events: new StatusEvents(ctx.bus.redis, ctx.bus.prefix),
    metrics: createMetrics(new Registry()),
    logger: createLogger({ service: 'bench-generation', level: 'warn' }),
    config: { RENDER_USER_QUEUED: Number(workerEnv.RENDER_USER_QUEUED) },
  });
  try {
    const fair = await scenario(ctx, lifecycle, redis, BACKLOG, 'fair', workerEnv);
    const all = await scenario(ctx, lifecycle, redis, BACKLOG, 'queue-all', workerEnv);
    await writeDocs({ start, end: machine(), fair, all });
  } finally {
    await ctx.close();
    await deleteOwnKeys(redis);
    redis.disconnect();
    await dropDatabase(databaseUrlFor(SERVER, databaseName));
    await rm(storageDir, { recursive: true, force: true });
  }
}

async function writeDocs(r: { start: { load: number; cores: number }; end: { load: number }; fair: Scenario; all: Scenario }) {
  const when = new Date().toISOString().slice(0, 16) + 'Z';
  const wait = (s: Scenario) =>
    s.light.waitedMs !== null
      ? `**${ms(s.light.waitedMs)} ms**`
      : `**not started within ${FAIR_TIMEOUT_S} s** (${s.light.aheadAtEnqueue.toLocaleString('en')} jobs ahead, passed at ${s.light.passedPerS.toFixed(0)}/s: ~${s.light.projectedS.toFixed(0)} s)`;
  const row = (s: Scenario, label: string) =>
    `| ${label} | ${s.waiting.toLocaleString('en')} | ${s.relayS.toFixed(2)} s${s.waiting > 1000 ? ` (${(s.waiting / s.relayS).toFixed(0)}/s)` : ''} | ${s.waiting > 1000 ? `${s.infoBytesPerJob.toFixed(0)} B` : '–'} | ${s.waiting > 1000 ? `${s.keyBytesPerJob.toFixed(0)} B (${s.keys.toLocaleString('en')} keys)` : `${s.keys} keys`} | ${s.light.aheadAtEnqueue.toLocaleString('en')} | ${wait(s)} | ${s.light.heavyRendersPerS.toFixed(1)} |`;
  const a = r.all;
  const f = r.fair;
  const fairMet = f.light.waitedMs !== null && f.light.waitedMs <= 5000;
  const text = `## Render backlog (#22 b)

\`pnpm --filter @imlab/bench backlog\` (bench/backlog.ts), run ${when} on ${r.start.cores} shared CPU cores (load average
${r.start.load.toFixed(1)} at the start, ${r.end.load.toFixed(1)} at the end; whatever else ran on the machine is in its figures).
One heavy user with ${f.backlog.toLocaleString('en')} queued generations, two ways in the same run: **fair dispatch** (what generation does now:
at most RENDER_USER_QUEUED=4 of a person's render jobs on the queue, the rest wait in the table) and **queue-all** (what it did
before: every render job on the queue; its ${a.backlog.toLocaleString('en')} \`generation.render\` messages go from the outbox through the real relay,
\`Bus.flush\` with 200 rows per transaction). Then one real render worker process (RENDER_CONCURRENCY=4, RENDER_USER_CAP=2,
LOCAL_RENDER_MS=0) works on it, and after 7 s a light user's generation is queued the real way (its row and
\`Lifecycle.dispatchIn\` in one transaction, then the relay). "Jobs ahead": the light job's distance from the end of the wait list the
worker takes from. Redis is shared: "INFO" is the change of used_memory (other engineers' keys too), "own keys" the sum of
MEMORY USAGE over this run's prefix only.

| way | render jobs on the queue | relay catch-up | Redis per job (INFO) | Redis per job (own keys) | jobs ahead of the light user | light user's wait to start | heavy user's renders/s (the 6 s before) |
|---|---:|---|---:|---:|---:|---|---:|
${row(f, 'fair dispatch (now)')}
${row(a, 'queue-all (before)')}

Goals (issue #22 b):
- Redis memory per waiting job — measured: ${a.keyBytesPerJob.toFixed(0)} B (own keys; INFO says ${a.infoBytesPerJob.toFixed(0)} B), so ${((a.keyBytesPerJob * 1_000_000) / 1024 / 1024).toFixed(0)} MB per million waiting jobs. With
  fair dispatch one person's backlog holds at most 4 jobs in Redis; the rest is a row in Postgres it has anyway.
- The relay's catch-up — measured: ${a.relayS.toFixed(1)} s for ${a.waiting.toLocaleString('en')} messages (${(a.waiting / a.relayS).toFixed(0)}/s); the relay is another engineer's work and was not changed here.
- Fairness still holding with a ${f.backlog.toLocaleString('en')}-job backlog (the light user's job starts within 5 s) — ${fairMet ? '**met** with fair dispatch' : `**not met** (${wait(f)})`}; queue-all: ${wait(a)}.
`;
  const file = await writeSection('backlog', text);
  log.info({ file }, 'docs updated');
}

await main();
process.exit(0);
