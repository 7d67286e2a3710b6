/**
 * Generation pipeline throughput, orchestration only: the local provider at zero artificial render
 * time (it still paints and encodes a 512x512 PNG and a thumbnail), real API process, real render
 * worker processes, real Postgres/Redis, and an in-process ledger stand-in that answers reserve /
 * capture at once. Measures generations per second with 1 and 2 workers and enqueue-to-start
 * latency, next to a bare BullMQ add → process loop measured in the same run.
 *
 *   pnpm --filter @imlab/bench generation            (N=300 by default; BENCH_N to change)
 *
 * Writes the "Generation" section of docs/benchmarks.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomBytes, randomUUID } from 'node:crypto';
import { Queue, Worker, QueueEvents } from 'bullmq';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { v7 as uuidv7 } from 'uuid';
import { createLogger } from '@imlab/logger';
import { connectRedis, type QueueTables } from '@imlab/queue';
import { createServiceContext } from '@imlab/service';
import { createDb, ensureDatabase, dropDatabase, sql, type Kysely } from '@imlab/db';
import { databaseUrlFor } from '@imlab/config';
import { freePort, sleep, waitReady } from './support/common.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
// Run the entry points under the tsx loader in one process each (the tsx CLI would add a parent).
const tsxLoader = pathToFileURL(path.join(repo, 'node_modules/tsx/dist/loader.mjs')).href;
const N = Number(process.env.BENCH_N ?? 300);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
/** How long a run waits for its generations to succeed before it gives up. */
const WAIT_LIMIT_MS = 120_000;
const SERVER = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const log = createLogger({ service: 'bench', level: 'info' });

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

async function issuer() {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
  const srv = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}/.well-known/jwks.json`;
  const sign = (sub: string) =>
    new SignJWT({ roles: ['user'], sid: randomUUID() }).setProtectedHeader({ alg: 'EdDSA', kid }).setSubject(sub).setAudience('generation').setIssuer('imlab-auth').setIssuedAt().setExpirationTime('10m').sign(privateKey);
  return {
    url,
    sign,
    close: () => {
      srv.closeAllConnections();
      return new Promise((r) => srv.close(r));
    },
  };
}

function spawnProc(entry: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', tsxLoader, path.join(repo, 'services/generation/src', entry)], { cwd: path.join(repo, 'services/generation'), env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  return child;
}


/** Ledger stand-in: every reserve placed, every capture accepted; no bookkeeping beyond a count. */
async function startLedger(prefix: string, dbName: string) {
  const ctx = await createServiceContext<QueueTables>({
    service: 'credits-ledger',
    logger: createLogger({ service: 'bench-ledger', level: 'warn' }),
    databaseUrl: SERVER,
    databaseName: dbName,
    redisUrl: REDIS,
    queuePrefix: prefix,
    migrationsFolder: path.join(repo, 'services/generation/test/fixtures/no-migrations'),
    migrate: true,
    poolSize: 4,
  });
  let captures = 0;
  ctx.bus.consume(
    'credits-ledger',
    {
      'ledger.reserve': async () => ({ status: 'placed' }),
      'ledger.capture': async () => {
        captures++;
        return { status: 'captured' };
      },
      'ledger.release': async () => ({ status: 'released' }),
    },
    { concurrency: 8 },
  );
  await ctx.bus.startRelay();
  return { ctx, captures: () => captures };
}

/**
 * `n` generations through the API: from CLIENTS closed-loop clients (saturation), or with
 * `pace` = creates per second from an open-loop client (a create every 1/pace s whether or not the
 * earlier ones finished: the load of a given arrival rate, below saturation).
 */
async function pipelineRun(label: string, apiPort: number, sign: (sub: string) => Promise<string>, genDb: Kysely<unknown>, n: number, opts: { clients?: number; pace?: number; gapMs?: number } = {}) {
  const users = Array.from({ length: 50 }, () => uuidv7());
  const tokens = await Promise.all(users.map(sign));
  const since = new Date();
  const t0 = performance.now();
  let next = 0;
  const ids: string[] = [];
  const create = async (i: number) => {
    const res = await fetch(`http://127.0.0.1:${apiPort}/v1/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens[i % users.length]}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: `bench ${label} ${i}`, model: 'imlab-draft', size: '512x512' }),
    });
    if (res.status !== 202) throw new Error(`create answered ${res.status}: ${await res.text()}`);
    ids.push(((await res.json()) as { id: string }).id);
  };
  if (opts.pace) {
    const pending: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const due = t0 + (i * 1000) / opts.pace;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      pending.push(create(i));
    }
    await Promise.all(pending);
  } else {
    await Promise.all(
      Array.from({ length: opts.clients ?? CLIENTS }, async () => {
        while (next < n) {
          const i = next++;
          await create(i);
          if (opts.gapMs) {
            // idle: the generation finishes before the next one is asked for
            const id = ids[ids.length - 1]!;
            const until = performance.now() + WAIT_LIMIT_MS;
            for (;;) {
              const { rows } = await sql<{ status: string }>`select status from generations where id = ${id}`.execute(genDb);
              if (rows[0]?.status === 'succeeded') break;
              if (performance.now() > until) throw new Error(`${label}: generation ${id} still ${rows[0]?.status} after ${WAIT_LIMIT_MS / 1000} s`);
              await sleep(2);
            }
            await sleep(opts.gapMs);
          }
        }
      }),
    );
  }
  const createdMs = performance.now() - t0;
  // A generation that never finishes (a lost answer: the ledger stand-in sends no events to go on
  // by) ends the run with its state, rather than a bench that waits for ever.
  const deadline = performance.now() + WAIT_LIMIT_MS;
  for (;;) {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from generations where status = 'succeeded' and created_at >= ${since}`.execute(genDb);
    if (rows[0]!.n >= n) break;
    if (performance.now() > deadline) {
      const { rows: states } = await sql<{ status: string; n: number }>`select status, count(*)::int as n from generations where created_at >= ${since} group by status`.execute(genDb);
      throw new Error(`${label}: not every generation succeeded within ${WAIT_LIMIT_MS / 1000} s (${states.map((r) => `${r.status} ${r.n}`).join(', ')})`);
    }
    await sleep(20);
  }
  const totalMs = performance.now() - t0;
  const { rows } = await sql<{ q: number; s: number; r: number; h: number }>`
    select extract(epoch from (started_at - queued_at)) * 1000 as q, extract(epoch from (finished_at - created_at)) * 1000 as s,
           extract(epoch from (finished_at - started_at)) * 1000 as r, extract(epoch from (queued_at - created_at)) * 1000 as h
    from generations where created_at >= ${since} and status = 'succeeded'`.execute(genDb);
  const startLat = rows.map((r) => Number(r.q));
  const e2e = rows.map((r) => Number(r.s));
  const render = rows.map((r) => Number(r.r));
  return {
    label,
    n,
    perSecond: n / (totalMs / 1000),
    createPerSecond: n / (createdMs / 1000),
    startP50: pct(startLat, 50),
    startP99: pct(startLat, 99),
    e2eP50: pct(e2e, 50),
    e2eP99: pct(e2e, 99),
    renderP50: pct(render, 50),
    /** created → queued: the reserve's round trip through the ledger. */
    holdP50: pct(rows.map((r) => Number(r.h)), 50),
  };
}

async function bareBullmq(prefix: string, n: number, workerCount: number) {
  const name = 'bench-bare';
  const conn = connectRedis(REDIS, 'bench-bare');
  const queue = new Queue(name, { connection: conn, prefix });
  const events = new QueueEvents(name, { connection: conn.duplicate(), prefix });
  await events.waitUntilReady();
  const lat: number[] = [];
  let done = 0;
  const workers = Array.from(
    { length: workerCount },
    () =>
      new Worker(
        name,
        async (job) => {
          lat.push(Date.now() - (job.data as { t: number }).t);
          done++;
        },
        { connection: conn.duplicate(), prefix, concurrency: 8 },
      ),
  );
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < n) {
        next++;
        await queue.add('job', { t: Date.now() }, { removeOnComplete: true });
      }
    }),
  );
  while (done < n) await sleep(5);
  const ms = performance.now() - t0;
  await Promise.all(workers.map((w) => w.close()));
  await events.close();
  await queue.obliterate({ force: true });
  await queue.close();
  conn.disconnect();
  return { perSecond: n / (ms / 1000), p50: pct(lat, 50), p99: pct(lat, 99) };
}

async function main() {
  const loadAtStart = loadavg()[0]!;
  const tag = randomBytes(3).toString('hex');
  const genDbName = `imlab_bench_gen_${tag}`;
  const ledgerDbName = `imlab_bench_ledger_${tag}`;
  const prefix = `{imlab_bench_${tag}}`;
  const storageDir = await mkdtemp(path.join(tmpdir(), 'imlab-bench-'));
  const iss = await issuer();
  const apiPort = await freePort();
  const env = {
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATABASE_URL: SERVER,
    DATABASE_NAME: genDbName,
    REDIS_URL: REDIS,
    QUEUE_PREFIX: prefix,
    AUTH_JWKS_URL: iss.url,
    STORAGE_DIR: storageDir,
    LOCAL_RENDER_MS: '0',
    RENDER_CONCURRENCY: '4',
    RENDER_USER_CAP: '4',
  };
  await ensureDatabase(databaseUrlFor(SERVER, genDbName));
  const ledger = await startLedger(prefix, ledgerDbName);
  const procs: ChildProcess[] = [];
  const genDb = createDb<unknown>(databaseUrlFor(SERVER, genDbName), { max: 2 });
  try {
    procs.push(spawnProc('main.ts', { ...env, PORT: String(apiPort), METRICS_PORT: '0' }));
    await waitReady(apiPort);
    const w1 = await freePort();
    procs.push(spawnProc('worker.ts', { ...env, WORKER_PORT: String(w1), WORKER_METRICS_PORT: '0' }));
    await waitReady(w1);
    log.info('warm-up');
    await pipelineRun('warmup', apiPort, iss.sign, genDb, 30);
    const bare1 = await bareBullmq(`{imlab_bench_bare1_${tag}}`, N, 1);
    const one = await pipelineRun('1 worker', apiPort, iss.sign, genDb, N);
    log.info(one, 'pipeline, 1 worker');
    const w2 = await freePort();
    procs.push(spawnProc('worker.ts', { ...env, WORKER_PORT: String(w2), WORKER_METRICS_PORT: '0' }));
    await waitReady(w2);
    const two = await pipelineRun('2 workers', apiPort, iss.sign, genDb, N);
    log.info(two, 'pipeline, 2 workers');
    // At idle: one generation at a time, the next asked for 100 ms after the last succeeded.
    const idle = await pipelineRun('idle', apiPort, iss.sign, genDb, 40, { clients: 1, gapMs: 100 });
    log.info(idle, 'pipeline, idle');
    // At half of the 2-worker saturation rate, open loop: enqueue → start where the queue is not full.
    const half = await pipelineRun('half load', apiPort, iss.sign, genDb, Math.min(N, 200), { pace: two.perSecond / 2 });
    log.info(half, 'pipeline, half load');
    const bare2 = await bareBullmq(`{imlab_bench_bare2_${tag}}`, N, 2);
    log.info({ bare1, bare2 }, 'bare BullMQ');
    await writeDocs({ one, two, idle, half, bare1, bare2, loadAtStart });
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await sleep(1500);
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    await genDb.destroy();
    await ledger.ctx.close();
    await iss.close();
    await dropDatabase(databaseUrlFor(SERVER, genDbName)).catch(() => {});
    await dropDatabase(databaseUrlFor(SERVER, ledgerDbName)).catch(() => {});
    const r = connectRedis(REDIS, 'bench-clean');
    let cursor = '0';
    do {
      const [nextCursor, keys] = await r.scan(cursor, 'MATCH', `{imlab_bench_*${tag}}*`, 'COUNT', 1000);
      cursor = nextCursor;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
    r.disconnect();
    await rm(storageDir, { recursive: true, force: true });
  }
}

type Run = Awaited<ReturnType<typeof pipelineRun>>;
type Bare = Awaited<ReturnType<typeof bareBullmq>>;

async function writeDocs(r: { one: Run; two: Run; idle: Run; half: Run; bare1: Bare; bare2: Bare; loadAtStart: number }) {
  const f = (x: number, d = 1) => x.toFixed(d);
  const section = `<!-- generation:start -->
## Generation

\`pnpm --filter @imlab/bench generation\` (bench/generation.ts), run ${new Date().toISOString().slice(0, 16)}Z on ${cpus().length} shared CPU cores,
N = ${r.one.n} generations per run from ${CLIENTS} concurrent clients over 50 people, each one 512x512 image with the \`local\` provider at
\`LOCAL_RENDER_MS=0\` (it still paints, encodes the PNG and the WebP thumbnail and writes both to the fs storage). Every
generation goes the whole way: HTTP create → outbox → relay → ledger reserve (in-process stand-in answering at once) →
queued + render command → relay → worker process (RENDER_CONCURRENCY=4) → store → succeeded + capture in one transaction.
The API, the workers, Postgres, Redis and the load generator share the same cores (1-minute load average at the start:
${f(r.loadAtStart)}; other work may share the machine), so treat these as orders of magnitude, not capacity figures.

| | generations/s | creates/s | create→queued (reserve) p50 | enqueue→start p50 | enqueue→start p99 | render (start→succeeded) p50 | create→succeeded p50 | create→succeeded p99 |
|---|---|---|---|---|---|---|---|---|
${[r.one, r.two, r.half, r.idle].map((x) => `| ${x === r.half ? `pipeline, 2 workers, half load (open loop, ${f(r.two.perSecond / 2)}/s)` : x === r.idle ? 'pipeline, idle (one at a time, 40)' : `pipeline, ${x.label}`} | ${f(x.perSecond)} | ${f(x.createPerSecond)} | ${f(x.holdP50, 0)} ms | ${f(x.startP50, 0)} ms | ${f(x.startP99, 0)} ms | ${f(x.renderP50, 0)} ms | ${f(x.e2eP50, 0)} ms | ${f(x.e2eP99, 0)} ms |`).join('\n')}

Goals (issue #22): ≥ 150 generations/s with 2 workers — ${r.two.perSecond >= 150 ? 'met' : 'not met'} (${f(r.two.perSecond)}/s);
create → succeeded ≤ 25 ms median at idle — ${r.idle.e2eP50 <= 25 ? 'met' : 'not met'} (${f(r.idle.e2eP50, 0)} ms, measured from the database's own timestamps
in the generation service; through the gateway and the event stream: "Generation through the gateway" below).

| bare BullMQ add → process (same run, no-op processor, concurrency 8) | jobs/s | add→process p50 | p99 |
|---|---|---|---|
| 1 worker | ${f(r.bare1.perSecond)} | ${f(r.bare1.p50, 0)} ms | ${f(r.bare1.p99, 0)} ms |
| 2 workers | ${f(r.bare2.perSecond)} | ${f(r.bare2.p50, 0)} ms | ${f(r.bare2.p99, 0)} ms |

Ratio pipeline / bare BullMQ: ${f((r.one.perSecond / r.bare1.perSecond) * 100)} % with 1 worker, ${f((r.two.perSecond / r.bare2.perSecond) * 100)} % with 2 workers.
The pipeline does several transactions, two outbox hops, two queue hops and image encoding per generation where the
bare loop does one Redis round trip, so the ratio is the price of the saga's guarantees, not queue overhead.
<!-- generation:end -->`;
  const file = path.join(repo, 'docs/benchmarks.md');
  let text = await readFile(file, 'utf8').catch(() => '# Benchmarks\n');
  text = /<!-- generation:start -->[\s\S]*<!-- generation:end -->/.test(text)
    ? text.replace(/<!-- generation:start -->[\s\S]*<!-- generation:end -->/, section)
    : `${text.trimEnd()}\n\n${section}\n`;
  await writeFile(file, text);
  log.info({ file }, 'wrote the Generation section');
}

await main();
// Client libraries keep a few sockets and timers open; the numbers are written, so leave.
process.exit(0);
