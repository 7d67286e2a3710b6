/**
 * Render workers 1 → 2 → 4 (#22 c): generations per second at zero-cost renders
 * (LOCAL_RENDER_MS=0: the local provider still paints a 512x512 image, and the worker encodes the
 * PNG and the WebP thumbnail, stores both, and commits success + capture), with 1, 2 and 4 real
 * worker processes (src/worker.ts, RENDER_CONCURRENCY=2 each, the default).
 *
 * Each case: BENCH_N (400) queued generations over 200 people (so RENDER_USER_CAP never binds)
 * written with their render messages to the outbox, the workers started and ready, then the real
 * relay (Bus.flush) publishes the messages and the clock runs until every generation succeeded.
 * CPU is read from /proc for the worker processes, this run's Postgres backends, redis-server (shared
 * with other engineers) and the whole machine, so the table says where each render's time went.
 *
 *   pnpm --filter @imlab/bench render-workers   (BENCH_WORKERS=1,2,4, BENCH_N=400,
 *                                              BENCH_PROFILE=dir for CPU profiles of the workers)
 *
 * Private database, storage folder and queue prefix, all removed at the end. Writes the
 * "Render workers" section of docs/benchmarks.md.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { createLogger } from '@imlab/logger';
import { connectRedis } from '@imlab/queue';
import type { ServiceContext } from '@imlab/service';
import { dropDatabase, sql } from '@imlab/db';
import { databaseUrlFor } from '@imlab/config';
import type { DB } from '../services/generation/src/db.js';
import { SERVER, REDIS, repo, sleep, machine, writeSection, cpuSnapshot, freePort, generationContext, waitReady } from './support/common.js';

const log = createLogger({ service: 'bench', level: 'info' });
const N = Number(process.env.BENCH_N ?? 400);
const PEOPLE = 200;
const COUNTS = (process.env.BENCH_WORKERS ?? '1,2,4').split(',').map(Number);
const tag = randomBytes(3).toString('hex');
const prefix = `{imlab_bench_rworkers_${tag}}`;
const tsxLoader = pathToFileURL(path.join(repo, 'node_modules/tsx/dist/loader.mjs')).href;


interface Case {
  workers: number;
  perS: number;
  seconds: number;
  /** CPU ms per render: the worker processes, this run's Postgres backends, redis-server (all clients), and the machine. */
  cpu: { workers: number; postgres: number; redis: number; machine: number };
  /** Cores busy on average: the same groups. */
  cores: { workers: number; postgres: number; redis: number; machine: number };
  renderP50: number;
}

async function runCase(ctx: ServiceContext<DB>, workers: number, env: Record<string, string>): Promise<Case> {
  // The backlog first, in the outbox only: nothing reaches the queue before every worker is ready.
  const gens = Array.from({ length: N }, () => uuidv7());
  const users = Array.from({ length: PEOPLE }, () => uuidv7());
  const since = new Date();
  const owner = gens.map((_, i) => users[i % PEOPLE]!);
  await ctx.db.transaction().execute(async (tx) => {
    await sql`
      insert into generations (id, user_id, status, prompt, model, width, height, count, seed, cost, request_hash, hold_expires_at, queued_at)
      select g, u, 'queued', 'a lighthouse at dusk', 'imlab-draft', 512, 512, 1, i, 1, 'bench', now() + interval '1 day', now()
      from unnest(${gens}::uuid[], ${owner}::uuid[]) with ordinality as x(g, u, i)`.execute(tx);
    // The render messages exactly as generation writes them (Bus.send, in the transaction).
    for (const [i, g] of gens.entries()) await ctx.bus.send(tx as never, 'generation.render', { generationId: g, userId: owner[i]! });
  });
  const procs = await Promise.all(
    Array.from({ length: workers }, async () => {
      const port = await freePort();
      const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
      const child = spawn(process.execPath, [...profile, '--import', tsxLoader, path.join(repo, 'services/generation/src/worker.ts')], {
        cwd: path.join(repo, 'services/generation'),
        env: { PATH: process.env.PATH ?? '', ...env, WORKER_PORT: String(port), WORKER_METRICS_PORT: '0' },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      await waitReady(port, child);
      return child;
    }),
  );
  try {
    await sleep(1000);
    const backends = (await sql<{ pid: number }>`select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`.execute(ctx.db)).rows.map((r) => r.pid);
    const a = cpuSnapshot();
    const t0 = performance.now();
    await ctx.bus.flush();
    for (;;) {
      const { rows } = await sql<{ n: number; failed: number }>`
        select count(*) filter (where status = 'succeeded')::int as n, count(*) filter (where status = 'failed')::int as failed
        from generations where id = any(${gens}::uuid[])`.execute(ctx.db);
      if (rows[0]!.failed > 0) throw new Error(`${rows[0]!.failed} renders failed`);
      if (rows[0]!.n >= N) break;
      if (performance.now() - t0 > 300_000) throw new Error(`only ${rows[0]!.n} of ${N} rendered in 5 minutes`);
      await sleep(50);
    }
    const seconds = (performance.now() - t0) / 1000;
    const b = cpuSnapshot();
    const sum = (pids: number[]) => pids.reduce((s, pid) => s + Math.max(0, (b.byPid.get(pid)?.s ?? 0) - (a.byPid.get(pid)?.s ?? 0)), 0);
    const redisPids = [...b.byPid].filter(([, p]) => p.name === 'redis-server').map(([pid]) => pid);
    const secs = { workers: sum(procs.map((p) => p.pid!)), postgres: sum(backends), redis: sum(redisPids), machine: b.machine - a.machine };
    const wall = (b.at - a.at) / 1000;
    const render = (await sql<{ p50: number }>`
      select percentile_cont(0.5) within group (order by extract(epoch from (finished_at - started_at)) * 1000) as p50
      from generations where id = any(${gens}::uuid[])`.execute(ctx.db)).rows[0]!.p50;
    const per = (s: number) => (s / N) * 1000;
    const result: Case = {
      workers,
      perS: N / seconds,
      seconds,
      cpu: { workers: per(secs.workers), postgres: per(secs.postgres), redis: per(secs.redis), machine: per(secs.machine) },
      cores: { workers: secs.workers / wall, postgres: secs.postgres / wall, redis: secs.redis / wall, machine: secs.machine / wall },
      renderP50: Number(render),
    };
    log.info({ ...result, since }, 'case done');
    return result;
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode === null ? Promise.race([new Promise((r) => p.once('exit', r)), sleep(15_000)]) : undefined)));
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  }
}

async function main() {
  const start = machine();
  const databaseName = `imlab_bench_rworkers_${tag}`;
  const storageDir = await mkdtemp(path.join(tmpdir(), 'imlab-rworkers-'));
  const ctx = await generationContext(databaseName, prefix, 3);
  const env = {
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATABASE_URL: SERVER,
    DATABASE_NAME: databaseName,
    REDIS_URL: REDIS,
    QUEUE_PREFIX: prefix,
    STORAGE_DIR: storageDir,
    LOCAL_RENDER_MS: '0',
    RENDER_CONCURRENCY: '2',
    RENDER_USER_CAP: '2',
  };
  try {
    const cases: Case[] = [];
    for (const w of COUNTS) cases.push(await runCase(ctx, w, env));
    await writeDocs({ start, end: machine(), cases });
  } finally {
    await ctx.close();
    const redis = connectRedis(REDIS, 'bench-rworkers-clean');
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 2000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
    await dropDatabase(databaseUrlFor(SERVER, databaseName));
    await rm(storageDir, { recursive: true, force: true });
  }
}

async function writeDocs(r: { start: { load: number; cores: number }; end: { load: number }; cases: Case[] }) {
  const when = new Date().toISOString().slice(0, 16) + 'Z';
  const one = r.cases[0]!;
  const f = (x: number, d = 1) => x.toFixed(d);
  const rows = r.cases.map(
    (c) =>
      `| ${c.workers} | ${c.workers * 2} | ${f(c.perS)} | ${f(c.perS / one.perS, 2)}× | ${f(c.renderP50, 0)} ms | ${f(c.cpu.workers)} + ${f(c.cpu.postgres)} + ${f(c.cpu.redis)} | ${f(c.cpu.machine)} | ${f(c.cores.workers, 2)} / ${f(c.cores.postgres, 2)} / ${f(c.cores.redis, 2)} / ${f(c.cores.machine, 2)} |`,
  );
  const text = `## Render workers (#22 c)

\`pnpm --filter @imlab/bench render-workers\` (bench/render-workers.ts), run ${when} on ${r.start.cores} shared CPU cores (load average
${r.start.load.toFixed(1)} at the start, ${r.end.load.toFixed(1)} at the end; whatever else ran on the machine is in its figures).
${N} queued generations over ${PEOPLE} people per case (RENDER_USER_CAP never binds), relayed from the outbox once every worker
process is ready; the clock stops when all succeeded. LOCAL_RENDER_MS=0: no artificial wait, but the local provider still
paints a 512x512 image and the worker encodes the PNG and the WebP thumbnail, writes both to the fs storage and commits
success + capture (+ the relay of those messages). CPU from /proc: the worker processes, this run's Postgres backends,
redis-server (shared with any other client of it), and the whole machine (everything running on it).

| worker processes | renders at once | generations/s | vs 1 worker | render p50 (claim → succeeded) | CPU ms per generation: workers + Postgres + Redis | machine CPU ms per generation | cores busy: workers / Postgres / Redis / machine |
|---:|---:|---:|---:|---:|---|---:|---|
${rows.join('\n')}
`;
  const file = await writeSection('render-workers', text);
  log.info({ file }, 'docs updated');
}

await main();
process.exit(0);
