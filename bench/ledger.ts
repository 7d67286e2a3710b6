/**
 * Credits-ledger throughput on this machine, next to `pgbench -N` measured in the same run:
 *
 *   1. pgbench -N (simple-update TPS), 32 clients, on its own database — alternated with 2a and 2b
 *      for BENCH_ROUNDS rounds, because the machine is shared and its load moves within minutes;
 *   2. store-level postings/s, 32 concurrent clients calling the ledger's service functions
 *      (each posting one transaction, as the inbox handler runs it):
 *        a. spread  — reserves on 2,000 users: only per-user rows are written;
 *        b. hot     — grants to the same users: every posting debits the shared `issuance` account;
 *        c. hot-row — (b) plus an UPDATE of one stored system balance row, i.e. what the design
 *                     avoids by deriving system balances from transfers (shown, not used);
 *   3. commands/s end to end: ledger.grant commands written to an outbox, relayed to BullMQ,
 *      consumed by the real service process (src/main.ts), effect + inbox row + events committed.
 *
 *   pnpm --filter @imlab/bench ledger        (BENCH_SECONDS=15, BENCH_CLIENTS=32, BENCH_WORKERS=2, BENCH_ROUNDS=3, BENCH_COMMANDS=3000)
 *
 * The store cases run their clients from BENCH_WORKERS child processes (this file, started with
 * BENCH_WORKER=1), each with its own pool: one Node process driving 32 clients saturates its own
 * core on a 2-core machine before Postgres does, while pgbench's C client costs next to nothing.
 * CPU of the postgres processes, of the load-generating Node processes and of the whole machine
 * is recorded for every case (from /proc), so the table says who was busy.
 *
 * Writes the "Ledger" section of docs/benchmarks.md (between the ledger markers).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { randomBytes, randomUUID } from 'node:crypto';
import { createLogger } from '@imlab/logger';
import type { ServiceContext } from '@imlab/service';
import { REDIS, repo, SERVER, serviceContext } from './support/common.js';
import { dropDatabase, sql } from '@imlab/db';
import { databaseUrlFor } from '@imlab/config';
import { backendPids as pidsOf, cpuNow, cpuSince, pgbenchDatabase, startLedgerService, type Cpu, writeGrants } from './support/machine.js';
import type { DB } from '../services/credits-ledger/src/db.js';
import { ledgerDeps } from '../services/credits-ledger/src/inbox.js';
import * as ledger from '../services/credits-ledger/src/ledger/ledger.service.js';
import type { LedgerDeps } from '../services/credits-ledger/src/ledger/ledger.service.js';

const tsx = path.join(repo, 'node_modules/.bin/tsx');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 32);
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 3000);
const USERS = 2000;
const log = createLogger({ service: 'bench', level: 'info' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tag = randomBytes(3).toString('hex');

const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/** The mean of several runs of one case (rates and CPU averaged). */
function mean(rs: CaseResult[]): CaseResult {
  const avg = (f: (r: CaseResult) => number) => rs.reduce((a, r) => a + f(r), 0) / rs.length;
  return {
    rate: avg((r) => r.rate),
    errors: rs.reduce((a, r) => a + r.errors, 0),
    cpu: { postgres: avg((r) => r.cpu.postgres), backends: avg((r) => r.cpu.backends), client: avg((r) => r.cpu.client), machine: avg((r) => r.cpu.machine) },
  };
}

/** Runs `op` from `clients` concurrent loops for SECONDS; returns completed operations per second. */
async function loadFor(clients: number, op: (client: number, i: number) => Promise<unknown>): Promise<{ rate: number; errors: number }> {
  const deadline = Date.now() + SECONDS * 1000;
  let done = 0;
  let errors = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; Date.now() < deadline; i++) {
        try {
          await op(c, i);
          done++;
        } catch (err) {
          errors++;
          if (errors < 5) log.error({ err }, 'operation failed');
        }
      }
    }),
  );
  return { rate: done / ((Date.now() - started) / 1000), errors };
}

type CaseName = 'spread' | 'hot' | 'hot-row';

/** One posting of a case, exactly as the inbox handler runs it: one transaction. */
function operation(name: CaseName, ctx: ServiceContext<DB>, deps: LedgerDeps, users: string[], offset: number) {
  const pick = (c: number, i: number) => users[((c + offset) * 7919 + i * 104729) % users.length]!;
  const expiresAt = new Date(Date.now() + 3600_000).toISOString();
  switch (name) {
    case 'spread':
      return (c: number, i: number) =>
        ctx.db.transaction().execute((tx) => ledger.reserve(tx, deps, { holdId: randomUUID(), userId: pick(c, i), amount: 1, expiresAt, reference: 'gen_bench' }));
    case 'hot':
      return (c: number, i: number) =>
        ctx.db.transaction().execute((tx) => ledger.grant(tx, deps, { idempotencyKey: randomUUID(), userId: pick(c, i), amount: 1, source: 'purchase', reference: 'ord_bench' }));
    case 'hot-row':
      return (c: number, i: number) =>
        ctx.db.transaction().execute(async (tx) => {
          await ledger.grant(tx, deps, { idempotencyKey: randomUUID(), userId: pick(c, i), amount: 1, source: 'purchase', reference: 'ord_bench' });
          await sql`update bench_hot_row set balance = balance - 1 where id = 1`.execute(tx);
        });
  }
}

const workerContext = (databaseName: string, prefix: string, poolSize: number) => serviceContext<DB>('credits-ledger', databaseName, prefix, poolSize, false);

/** Child process mode: run one case's share of the clients, report rate and own CPU as a JSON line. */
async function worker() {
  const name = process.env.BENCH_CASE as CaseName;
  const clients = Number(process.env.BENCH_WORKER_CLIENTS);
  const ctx = await workerContext(process.env.BENCH_DB!, process.env.BENCH_PREFIX!, clients + 1);
  try {
    const deps = await ledgerDeps(ctx, { LOW_BALANCE_THRESHOLD: 10 });
    const users = (await sql<{ owner_id: string }>`select owner_id from accounts where type = 'available' and owner_id is not null order by owner_id`.execute(ctx.db)).rows.map((r) => r.owner_id);
    const op = operation(name, ctx, deps, users, Number(process.env.BENCH_WORKER_INDEX) * clients);
    // Warm the pool so that connecting is not part of the measurement.
    await Promise.all(Array.from({ length: clients }, () => sql`select 1`.execute(ctx.db)));
    const next = lines(process.stdin);
    process.stdout.write('ready\n');
    await next();
    const cpu0 = process.cpuUsage();
    const r = await loadFor(clients, op);
    const cpu = process.cpuUsage(cpu0);
    process.stdout.write(`${JSON.stringify({ ...r, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`);
    // Keep the connections until the parent has sampled the backends' CPU (it closes our stdin).
    await next().catch(() => undefined);
  } finally {
    await ctx.close();
  }
}

function lines(stream: NodeJS.ReadableStream): () => Promise<string> {
  const it = createInterface({ input: stream })[Symbol.asyncIterator]();
  return async () => {
    const r = await it.next();
    if (r.done) throw new Error('bench worker ended early');
    return r.value as string;
  };
}

interface CaseResult {
  rate: number;
  errors: number;
  cpu: Cpu;
}

/** Runs a case from `workers` child processes that start together; sums their rates. */
async function runCase(name: CaseName, databaseName: string, prefix: string, workers = WORKERS): Promise<CaseResult> {
  const clients = CLIENTS / workers;
  if (!Number.isInteger(clients)) throw new Error('BENCH_CLIENTS must be a multiple of BENCH_WORKERS');
  const procs = Array.from({ length: workers }, (_, w) =>
    spawn(tsx, [fileURLToPath(import.meta.url)], {
      env: { ...process.env, BENCH_WORKER: '1', BENCH_CASE: name, BENCH_DB: databaseName, BENCH_PREFIX: prefix, BENCH_WORKER_CLIENTS: String(clients), BENCH_WORKER_INDEX: String(w) },
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  try {
    const readers = procs.map((p) => lines(p.stdout!));
    await Promise.all(readers.map(async (read) => void (await read())));
    const before = cpuNow();
    for (const p of procs) p.stdin!.write('go\n');
    const results = await Promise.all(readers.map(async (read) => JSON.parse(await read()) as { rate: number; errors: number; cpuSeconds: number }));
    const cpu = cpuSince(before, results.reduce((a, r) => a + r.cpuSeconds, 0), pidsOf(SERVER, databaseName));
    const result = { rate: results.reduce((a, r) => a + r.rate, 0), errors: results.reduce((a, r) => a + r.errors, 0), cpu };
    log.info({ name, workers, ...result }, 'case done');
    return result;
  } finally {
    for (const p of procs) p.stdin!.end();
    await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
  }
}

async function main() {
  const databaseName = `imlab_bench_ledger_${tag}`;
  const prefix = `{imlab_bench_ledger_${tag}}`;
  const loadBefore = loadavg()[0]!;
  log.info({ seconds: SECONDS, clients: CLIENTS, rounds: ROUNDS }, 'start');
  const pgdb = pgbenchDatabase(SERVER, tag);

  const ctx = await serviceContext<DB>('credits-ledger', databaseName, prefix, CLIENTS + 2);
  let service: Awaited<ReturnType<typeof startLedgerService>> | undefined;
  try {
    const deps = await ledgerDeps(ctx, { LOW_BALANCE_THRESHOLD: 10 });
    const users = Array.from({ length: USERS }, () => randomUUID());
    // Opening balances in bulk, booked as grants so the books balance from the start.
    await sql`
      with u as (select unnest(${users}::uuid[]) as owner_id),
           a as (insert into accounts (owner_id, type, balance) select owner_id, 'available', 1000000000 from u returning id),
           h as (insert into accounts (owner_id, type) select owner_id, 'held' from u)
      insert into transfers (debit_account_id, credit_account_id, amount, kind, subject_id)
      select ${deps.system.issuance}::uuid, a.id, 1000000000, 'grant_purchase', a.id from a`.execute(ctx.db);
    await sql`create table bench_hot_row (id int primary key, balance bigint not null)`.execute(ctx.db);
    await sql`insert into bench_hot_row values (1, 0)`.execute(ctx.db);
    await sql`vacuum analyze`.execute(ctx.db);

    // pgbench and the two target cases alternate for ROUNDS rounds: the machine is shared, and its
    // load moves within minutes, so each round compares cases run seconds apart.
    const rounds: { pg: CaseResult; spread: CaseResult; hot: CaseResult }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      rounds.push({ pg: { ...(await pgdb.run(CLIENTS, SECONDS)), errors: 0 }, spread: await runCase('spread', databaseName, prefix), hot: await runCase('hot', databaseName, prefix) });
    }
    const pg = mean(rounds.map((r) => r.pg));
    const pgTps = pg.rate;
    const spread = mean(rounds.map((r) => r.spread));
    const hot = mean(rounds.map((r) => r.hot));
    // The spread case driven by one Node process for all clients: what the earlier runs measured.
    const spreadOne = await runCase('spread', databaseName, prefix, 1);
    // BENCH_PROBE=1: the two target cases and the one-process comparison only; the docs are not touched.
    if (process.env.BENCH_PROBE) {
      const hotUpdates = (await sql`select relname, n_tup_upd, n_tup_hot_upd from pg_stat_user_tables where relname in ('accounts', 'holds')`.execute(ctx.db)).rows;
      log.info({ hotUpdates }, 'updates');
      log.info({ pgbench: pg, spread, spreadOne, hot, spreadPct: spread.rate / pgTps, hotPct: hot.rate / pgTps }, 'probe');
      return;
    }
    const hotRow = await runCase('hot-row', databaseName, prefix);
    // Diagnostic: the shared outbox's NOTIFY trigger (which the ledger drops, migrations/0002) makes
    // every commit take Postgres's global notify-queue lock through the WAL flush. Put back for one run.
    await sql`create trigger outbox_notify after insert on outbox for each statement execute function imlab_outbox_notify()`.execute(ctx.db);
    const spreadNotify = await runCase('spread', databaseName, prefix);
    await sql`drop trigger outbox_notify on outbox`.execute(ctx.db);

    // End to end: the real service process consumes its inbox.
    service = await startLedgerService({
      server: SERVER,
      redis: REDIS,
      databaseName,
      prefix,
      env: { DB_POOL_SIZE: String(CLIENTS), INBOX_CONCURRENCY: String(CLIENTS), SEAL_INTERVAL: '5' },
    });
    const inboxBefore = Number((await sql<{ n: number }>`select count(*) as n from inbox`.execute(ctx.db)).rows[0]!.n);
    log.info({ commands: COMMANDS }, 'end to end: outbox → relay → BullMQ → ledger inbox');
    const started = Date.now();
    await writeGrants(ctx, users, COMMANDS, CLIENTS, 'ord_e2e');
    const sentAt = Date.now();
    for (;;) {
      const n = Number((await sql<{ n: number }>`select count(*) as n from inbox`.execute(ctx.db)).rows[0]!.n) - inboxBefore;
      if (n >= COMMANDS) break;
      if (Date.now() - started > 300_000) throw new Error(`only ${n} of ${COMMANDS} commands processed`);
      await sleep(20);
    }
    const e2e = COMMANDS / ((Date.now() - started) / 1000);
    const verify = (await sql<{ n: number }>`select count(*) as n from postings where idempotency_key is not null`.execute(ctx.db)).rows[0]!.n;
    log.info({ spread, hot, hotRow, spreadNotify, e2e, sendSeconds: (sentAt - started) / 1000, postings: verify }, 'done');

    const pct = (x: number) => `${((x / pgTps) * 100).toFixed(0)} %`;
    const when = new Date().toISOString().slice(0, 16) + 'Z';
    const c = (x: number) => x.toFixed(2);
    // CPU per operation: the benchmark's postgres backends and its client processes, in ms.
    const perOp = (r: { rate: number; cpu: Cpu }) => `${((r.cpu.backends / r.rate) * 1000).toFixed(2)} + ${((r.cpu.client / r.rate) * 1000).toFixed(2)}`;
    const row = (label: string, r: { rate: number; cpu: Cpu }) =>
      `| ${label} | ${r.rate.toFixed(0)} | ${pct(r.rate)} | ${c(r.cpu.backends)} / ${c(r.cpu.client)} / ${c(r.cpu.machine)} | ${perOp(r)} |`;
    const section = `<!-- ledger:start -->
## Ledger

\`pnpm --filter @imlab/bench ledger\` (bench/ledger.ts), run ${when} on ${2} shared CPU cores, Postgres 15 with default
durability (fsync on, synchronous_commit on) for both pgbench and the ledger, ${CLIENTS} concurrent clients,
${SECONDS} s per case, ${USERS} users. Every ledger posting is one transaction exactly as the inbox handler runs it
(BEGIN, one call of the posting's PL/pgSQL function — idempotency row or hold row, conditional balance UPDATE,
transfer row, outbox event — COMMIT). The store cases' clients run in ${WORKERS} worker processes unless noted.
CPU columns are average cores busy during the case, read from /proc: the postgres backends serving the case, the
load generator (pgbench's own CPU, or the Node workers), and the whole machine (other engineers' work included).

| case | ops/s | vs \`pgbench -N\` (${pgTps.toFixed(0)} TPS, same run) | CPU cores: backends / client / machine | CPU ms per op: postgres + client |
|---|---|---|---|---|
${row('`pgbench -N` (C client, 2 threads)', pg)}
${row(`store, spread: reserves over ${USERS} users (per-user rows only)`, spread)}
${row('store, spread, all clients in one Node process', spreadOne)}
${row('store, hot: grants, every posting debits the shared `issuance` account', hot)}
${row('store, hot **row** (for comparison only): grants + UPDATE of one stored system balance', hotRow)}
${row('store, spread, with the shared outbox NOTIFY trigger put back (diagnostic only)', spreadNotify)}
| commands end to end: outbox → relay → BullMQ → ledger inbox (${COMMANDS} \`ledger.grant\`) | ${e2e.toFixed(0)} | ${pct(e2e)} | | |

The pgbench, spread and hot rows are means over ${ROUNDS} rounds of (pgbench, spread, hot), run one after the other; per round:

| round | \`pgbench -N\` TPS | spread ops/s (vs pgbench) | hot ops/s (vs pgbench) | hot / spread |
|---|---|---|---|---|
${rounds.map((r, i) => `| ${i + 1} | ${r.pg.rate.toFixed(0)} | ${r.spread.rate.toFixed(0)} (${((r.spread.rate / r.pg.rate) * 100).toFixed(0)} %) | ${r.hot.rate.toFixed(0)} (${((r.hot.rate / r.pg.rate) * 100).toFixed(0)} %) | ${((r.hot.rate / r.spread.rate) * 100).toFixed(0)} % |`).join('\n')}

Hot / spread (means): ${((hot.rate / spread.rate) * 100).toFixed(0)} % (target: at least 80 %). Errors: ${spread.errors + spreadOne.errors + hot.errors + hotRow.errors + spreadNotify.errors}.
Load average (1 min) on the machine: ${loadBefore.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end — other
engineers' builds and tests ran at the same time, so absolute numbers and even the ratios move between runs.
<!-- ledger:notes -->
<!-- ledger:end -->`;
    const file = path.join(repo, 'docs/benchmarks.md');
    const current = await readFile(file, 'utf8').catch(() => '# Benchmarks\n');
    // The analysis below the table is written by hand; keep it across runs.
    const notes = /<!-- ledger:notes -->([\s\S]*)<!-- ledger:end -->/.exec(current)?.[1] ?? '\n';
    const sectionWithNotes = section.replace('<!-- ledger:notes -->\n<!-- ledger:end -->', () => `<!-- ledger:notes -->${notes}<!-- ledger:end -->`);
    const next2 = /<!-- ledger:start -->[\s\S]*<!-- ledger:end -->/.test(current)
      ? current.replace(/<!-- ledger:start -->[\s\S]*<!-- ledger:end -->/, () => sectionWithNotes)
      : `${current.trimEnd()}\n\n${sectionWithNotes}\n`;
    await writeFile(file, next2);
    log.info({ file }, 'docs updated');
  } finally {
    await service?.stop();
    await ctx.close();
    await dropDatabase(databaseUrlFor(SERVER, databaseName));
    pgdb.drop();
  }
}

if (process.env.BENCH_WORKER) await worker();
else await main();
