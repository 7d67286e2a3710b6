/**
 * The message path end to end, next to `pgbench -N` measured in the same run: `ledger.grant`
 * commands committed to the ledger's outbox by CLIENTS concurrent writers (one transaction each, as a
 * service's request would), relayed to BullMQ by the real credits-ledger process (src/main.ts) and
 * applied by its inbox consumer (effect + inbox record + the `ledger.posted` event in one
 * transaction). Every person already has accounts (the steady state; a first grant opens them).
 *
 * Cases, each on a fresh database with a fresh service process, in ROUNDS interleaved rounds:
 *   pgbench -N            the reference (simple-update TPS, CLIENTS clients)
 *   one per transaction   INBOX_BATCH=1: each command its own inbox transaction (before group commit)
 *   group commit          INBOX_BATCH=64, one lane (the service's default)
 *   group commit, 2 lanes INBOX_BATCH=64, INBOX_LANES=2
 *   group commit, N in flight  the consumer takes N commands at once (16, 64: the service's default, 128)
 * (The first three take one command per writer at once, INBOX_CONCURRENCY=CLIENTS.)
 * For each: commands/s from the first write to the last command applied, CPU ms per command (the
 * service process, its Postgres backends, the writers' backends, Redis, the writer process) from
 * /proc and Redis INFO, and where a message spent its time (written → relayed → applied, p50/p99).
 *
 *   pnpm --filter @imlab/bench message-path      (BENCH_COMMANDS=4000, BENCH_CLIENTS=32, BENCH_ROUNDS=2,
 *                                                BENCH_PROFILE=dir for CPU profiles of the service,
 *                                                BENCH_CASES='name;name' for some of the cases)
 * Prints a markdown report (docs/benchmarks.md, "Message path").
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { createLogger } from '@imlab/logger';
import { createServiceContext } from '@imlab/service';
import { dropDatabase, sql } from '@imlab/db';
import { databaseUrlFor } from '@imlab/config';
import type { DB } from '../services/credits-ledger/src/db.js';
import { ledgerDeps } from '../services/credits-ledger/src/inbox.js';
import * as ledger from '../services/credits-ledger/src/ledger/ledger.service.js';
import { backendPids, cpuNow, pgbenchDatabase, processCpu, startLedgerService, writeGrants } from './support/machine.js';

const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 4000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const USERS = 2000;
const SERVER = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const log = createLogger({ service: 'bench', level: 'info' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tag = randomBytes(3).toString('hex');

interface Case {
  name: string;
  env: Record<string, string>;
}
const ALL_CASES: Case[] = [
  { name: 'one per transaction', env: { INBOX_BATCH: '1' } },
  { name: 'group commit', env: { INBOX_BATCH: '64', INBOX_LANES: '1' } },
  { name: 'group commit, 2 lanes', env: { INBOX_BATCH: '64', INBOX_LANES: '2' } },
  // how many jobs the consumer takes at once bounds a group (the cases above: as many as writers)
  { name: 'group commit, 16 in flight', env: { INBOX_BATCH: '64', INBOX_LANES: '1', INBOX_CONCURRENCY: '16' } },
  { name: 'group commit, 64 in flight', env: { INBOX_BATCH: '64', INBOX_LANES: '1', INBOX_CONCURRENCY: '64' } },
  { name: 'group commit, 128 in flight', env: { INBOX_BATCH: '128', INBOX_LANES: '1', INBOX_CONCURRENCY: '128' } },
];
/** BENCH_CASES: case names separated by `;` (default: all). */
const asked = process.env.BENCH_CASES?.split(';');
const unknown = asked?.filter((name) => !ALL_CASES.some((c) => c.name === name)) ?? [];
if (unknown.length) throw new Error(`BENCH_CASES: no case named ${unknown.map((n) => `"${n}"`).join(', ')} (cases: ${ALL_CASES.map((c) => c.name).join('; ')})`);
const CASES = asked ? ALL_CASES.filter((c) => asked.includes(c.name)) : ALL_CASES;

interface Result {
  rate: number;
  writtenRate: number;
  /** CPU ms per command. */
  cpu: { service: number; serviceBackends: number; writerBackends: number; redis: number; writer: number; machine: number };
  ms: Record<string, number>;
}

async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return get('used_cpu_sys') + get('used_cpu_user');
}

async function runCase(c: Case, round: number): Promise<Result> {
  const databaseName = `imlab_bench_mp_${tag}_${round}_${ALL_CASES.indexOf(c)}`;
  const prefix = `bench-mp-${tag}-${round}-${ALL_CASES.indexOf(c)}`;
  const ctx = await createServiceContext<DB>({
    service: 'bench-writer',
    logger: log,
    databaseUrl: SERVER,
    databaseName,
    redisUrl: REDIS,
    queuePrefix: prefix,
    migrationsFolder: new URL('../services/credits-ledger/migrations', import.meta.url).pathname,
    migrate: true,
    poolSize: CLIENTS,
  });
  const redis = new Redis(REDIS);
  let service: Awaited<ReturnType<typeof startLedgerService>> | undefined;
  try {
    const users = Array.from({ length: USERS }, () => randomUUID());
    // Every person has accounts already (a first grant opens them: not the steady state measured here).
    const deps = await ledgerDeps(ctx, { LOW_BALANCE_THRESHOLD: 10 });
    let u = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (u < USERS) {
          const userId = users[u++]!;
          await ctx.db.transaction().execute((tx) => ledger.grant(tx, deps, { idempotencyKey: randomUUID(), userId, amount: 1, source: 'promo', reference: 'warm' }));
        }
      }),
    );
    await sql`delete from outbox`.execute(ctx.db);
    await sql`vacuum analyze`.execute(ctx.db);
    service = await startLedgerService({
      server: SERVER,
      redis: REDIS,
      databaseName,
      prefix,
      env: {
        DB_POOL_SIZE: String(CLIENTS),
        INBOX_CONCURRENCY: String(CLIENTS),
        ...c.env,
        ...(process.env.BENCH_PROFILE ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE}` } : {}),
      },
    });
    const servicePid = service.process.pid!;
    const inboxBefore = Number((await sql<{ n: string }>`select count(*) as n from inbox`.execute(ctx.db)).rows[0]!.n);
    const cpu0 = { at: cpuNow(), service: processCpu(servicePid), redis: await redisCpu(redis), writer: process.cpuUsage() };
    const started = Date.now();
    await writeGrants(ctx, users, COMMANDS, CLIENTS, 'ord_mp');
    const written = Date.now();
    let ours = new Set<number>();
    for (;;) {
      // the backends are sampled while they still exist (they exit with the service)
      ours = new Set([...ours, ...backendPids(SERVER, databaseName, 'credits-ledger')]);
      const n = Number((await sql<{ n: string }>`select count(*) as n from inbox`.execute(ctx.db)).rows[0]!.n) - inboxBefore;
      if (n >= COMMANDS) break;
      if (Date.now() - started > 600_000) throw new Error(`only ${n} of ${COMMANDS} applied`);
      await sleep(20);
    }
    const done = Date.now();
    const cpu1 = { at: cpuNow(), service: processCpu(servicePid), redis: await redisCpu(redis), writer: process.cpuUsage(cpu0.writer) };
    const writers = backendPids(SERVER, databaseName, 'bench-writer');
    let serviceBackends = 0;
    let writerBackends = 0;
    for (const [pid, s] of cpu1.at.postgres) {
      const d = s - (cpu0.at.postgres.get(pid) ?? 0);
      if (ours.has(pid)) serviceBackends += d;
      if (writers.has(pid)) writerBackends += d;
    }
    const per = (seconds: number) => (seconds * 1000) / COMMANDS;
    const stages = (
      await sql<Record<string, number>>`
        select
          percentile_cont(0.5) within group (order by extract(epoch from o.sent_at - o.created_at)) * 1000 as relay_p50,
          percentile_cont(0.99) within group (order by extract(epoch from o.sent_at - o.created_at)) * 1000 as relay_p99,
          percentile_cont(0.5) within group (order by extract(epoch from i.processed_at - o.sent_at)) * 1000 as apply_p50,
          percentile_cont(0.99) within group (order by extract(epoch from i.processed_at - o.sent_at)) * 1000 as apply_p99
        from outbox o join inbox i on i.message_id = o.id::text
        where o.name = 'ledger.grant'`.execute(ctx.db)
    ).rows[0]!;
    const result: Result = {
      rate: COMMANDS / ((done - started) / 1000),
      writtenRate: COMMANDS / ((written - started) / 1000),
      cpu: {
        service: per(cpu1.service - cpu0.service),
        serviceBackends: per(serviceBackends),
        writerBackends: per(writerBackends),
        redis: per((await redisCpu(redis)) - cpu0.redis),
        writer: per((cpu1.writer.user + cpu1.writer.system) / 1e6),
        machine: per(cpu1.at.machine - cpu0.at.machine),
      },
      ms: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, Math.round(Number(v))])),
    };
    log.info({ case: c.name, round, ...result }, 'case done');
    return result;
  } finally {
    await service?.stop();
    redis.disconnect();
    await ctx.close();
    await dropDatabase(databaseUrlFor(SERVER, databaseName)).catch(() => undefined);
  }
}

const load0 = loadavg()[0]!;
const at = new Date().toISOString().slice(0, 16);
const pg = pgbenchDatabase(SERVER, tag);
const rounds: { pg: number; cases: Result[] }[] = [];
try {
  for (let r = 0; r < ROUNDS; r++) {
    const p = await pg.run(CLIENTS, 10);
    log.info({ round: r, pgbench: p.rate }, 'pgbench -N');
    const cases: Result[] = [];
    for (const c of CASES) cases.push(await runCase(c, r));
    rounds.push({ pg: p.rate, cases });
  }
} finally {
  pg.drop();
}
const load1 = loadavg()[0]!;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const f1 = (x: number) => x.toFixed(2);
const pgMedian = median(rounds.map((r) => r.pg));
const rows = CASES.map((c, i) => {
  const rs = rounds.map((r) => r.cases[i]!);
  const ratio = median(rounds.map((r) => r.cases[i]!.rate / r.pg));
  const m = (f: (x: Result) => number) => median(rs.map(f));
  return `| ${c.name} | ${m((x) => x.rate).toFixed(0)} | ${(ratio * 100).toFixed(1)} % | ${rs.map((x) => x.rate.toFixed(0)).join(' / ')} | ${f1(m((x) => x.cpu.service))} / ${f1(m((x) => x.cpu.serviceBackends))} / ${f1(m((x) => x.cpu.redis))} / ${f1(m((x) => x.cpu.writerBackends))} / ${f1(m((x) => x.cpu.writer))} | ${f1(m((x) => x.cpu.machine))} | ${m((x) => x.ms.relay_p50!)} / ${m((x) => x.ms.relay_p99!)} | ${m((x) => x.ms.apply_p50!)} / ${m((x) => x.ms.apply_p99!)} |`;
});
process.stdout.write(`
\`pnpm --filter @imlab/bench message-path\` (bench/message-path.ts), run ${at}Z on ${'2'} shared CPU cores, ${COMMANDS} \`ledger.grant\`
commands per case from ${CLIENTS} writers over ${USERS} people (accounts open), ${ROUNDS} interleaved rounds of (pgbench -N, each case);
medians over the rounds. Load average (1 min): ${load0.toFixed(1)} at the start, ${load1.toFixed(1)} at the end.

| case | commands/s | vs \`pgbench -N\` (${pgMedian.toFixed(0)} TPS, same rounds) | per round | CPU ms per command: service / its backends / Redis / writers' backends / writer | machine CPU ms per command | written → relayed p50 / p99 ms | relayed → applied p50 / p99 ms |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}

pgbench -N per round: ${rounds.map((r) => r.pg.toFixed(0)).join(' / ')} TPS.
`);
process.exit(0);
