import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { createLogger } from '@imlab/logger';
import { contextFromConfig, type ServiceContext } from '@imlab/service';
import { createDb, sql, type Kysely, type Transaction } from '@imlab/db';
import { createTestDatabase, infra, testPrefix } from '@imlab/testing';
import { loadLedgerConfig, type Config } from '../../src/config.js';
import type { DB } from '../../src/db.js';
import { ledgerDeps } from '../../src/inbox.js';
import type { LedgerDeps } from '../../src/ledger/ledger.service.js';
import { recognise } from '../../src/revenue/revenue.service.js';

export const MIGRATIONS = fileURLToPath(new URL('../../migrations', import.meta.url));

export interface TestLedger {
  config: Config;
  ctx: ServiceContext<DB>;
  db: Kysely<DB>;
  deps: LedgerDeps;
  /** Runs `fn` in its own transaction, as a queue handler would. */
  run<T>(fn: (tx: Transaction<DB>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A ledger on its own database and queue prefix, migrated, with a small pool. */
export async function startLedger(label: string, opts: { poolSize?: number; env?: Record<string, string> } = {}): Promise<TestLedger> {
  const { databaseUrl, redisUrl } = infra();
  const database = await createTestDatabase(label);
  // Test databases only: commits need not wait for the WAL flush (the disk is shared by everyone).
  const admin = createDb<unknown>(database.url, { max: 1 });
  await sql`alter database ${sql.id(database.name)} set synchronous_commit = off`.execute(admin);
  await admin.destroy();
  const config = loadLedgerConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    DATABASE_NAME: database.name,
    QUEUE_PREFIX: testPrefix(label),
    LOG_LEVEL: 'silent',
    ...opts.env,
  });
  const logger = createLogger({ service: 'credits-ledger', level: config.LOG_LEVEL });
  const ctx = await contextFromConfig<DB>('credits-ledger', config, logger, new URL('../../migrations', import.meta.url), { migrate: true, poolSize: opts.poolSize ?? 4 });
  const deps = await ledgerDeps(ctx, config);
  return {
    config,
    ctx,
    db: ctx.db,
    deps,
    run: (fn) => ctx.db.transaction().execute(fn),
    close: () => ctx.close(),
  };
}

/** Recognises until the cluster-wide xmin lets every transfer through (other tests' transactions, in any database, can hold it back a moment). */
export async function recognisedAll(db: Kysely<DB>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await recognise(db);
    const { rows } = await sql<{ behind: number }>`
      select count(*)::int8 as behind from transfers t, revenue_cursor c where (t.xid, t.id) > (c.last_xid, c.last_transfer_id)`.execute(db);
    if (rows[0]!.behind === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the revenue recogniser did not catch up');
}

export const user = () => randomUUID();
export const inMinutes = (m: number) => new Date(Date.now() + m * 60_000).toISOString();

/** As the owner of the database (the trigger off): moves transfers to another instant, for a history over several months. */
export async function backdate(db: Kysely<DB>, ids: number[], to: Date): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await sql`alter table transfers disable trigger transfers_immutable`.execute(tx);
    await sql`update transfers set created_at = ${to} where id = any(${ids}::int8[])`.execute(tx);
    await sql`alter table transfers enable trigger transfers_immutable`.execute(tx);
  });
}
export const maxTransferId = async (db: Kysely<DB>) => Number((await sql<{ m: string | null }>`select max(id) as m from transfers`.execute(db)).rows[0]!.m ?? 0);
export const idsAfter = async (db: Kysely<DB>, id: number) => (await sql<{ id: number }>`select id from transfers where id > ${id} order by id`.execute(db)).rows.map((r) => Number(r.id));
/** The first instant (UTC) of `d`'s month, `plus` months on. */
export const monthStart = (d: Date, plus = 0) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + plus, 1));

/**
 * The ledger's invariants, checked on the whole database:
 * - every transfer balances by construction, so the sum over all accounts of (credits − debits) is
 *   zero; the stored user balances must equal that derived figure, account by account;
 * - no user balance is negative;
 * - each user's held balance equals the sum of their open holds;
 * - each hold was placed at most once and resolved at most once, consistently with its status.
 */
export async function invariantViolations(db: Kysely<DB>): Promise<string[]> {
  const problems: string[] = [];
  const { rows: sums } = await sql<{ stored: number; derived: number }>`
    with d as (select debit_account_id acc, sum(amount) s from transfers group by 1),
         c as (select credit_account_id acc, sum(amount) s from transfers group by 1)
    select coalesce(sum(case when a.owner_id is null then coalesce(c.s,0) - coalesce(d.s,0) else a.balance end), 0)::int8 as stored,
           coalesce(sum(coalesce(c.s,0) - coalesce(d.s,0)), 0)::int8 as derived
    from accounts a left join d on d.acc = a.id left join c on c.acc = a.id`.execute(db);
  if (sums[0]!.stored !== 0) problems.push(`sum of balances is ${sums[0]!.stored}, not zero`);
  if (sums[0]!.derived !== 0) problems.push(`sum of derived balances is ${sums[0]!.derived}`);
  const { rows: drift } = await sql<{ id: string; balance: number; derived: number }>`
    select a.id, a.balance,
      (coalesce((select sum(amount) from transfers where credit_account_id = a.id), 0) - coalesce((select sum(amount) from transfers where debit_account_id = a.id), 0))::int8 as derived
    from accounts a where a.owner_id is not null`.execute(db);
  for (const r of drift) {
    if (r.balance !== r.derived) problems.push(`account ${r.id} stores ${r.balance} but its transfers say ${r.derived}`);
    if (r.balance < 0) problems.push(`account ${r.id} is negative (${r.balance})`);
  }
  const { rows: held } = await sql<{ id: string; balance: number; open: number }>`
    select a.id, a.balance, coalesce((select sum(amount) from holds h where h.held_account_id = a.id and h.status = 'open'), 0)::int8 as open
    from accounts a where a.type = 'held'`.execute(db);
  for (const r of held) if (r.balance !== r.open) problems.push(`held account ${r.id} is ${r.balance} but open holds sum to ${r.open}`);
  const { rows: holds } = await sql<{ id: string; status: string; amount: number | null; captured: number | null; reserves: number; resolutions: number; consumed: number; returned: number }>`
    select h.id, h.status, h.amount, h.captured,
      count(*) filter (where t.kind = 'reserve')::int8 as reserves,
      count(*) filter (where t.kind in ('release', 'expire', 'capture', 'capture_return'))::int8 as resolutions,
      coalesce(sum(t.amount) filter (where t.kind = 'capture'), 0)::int8 as consumed,
      coalesce(sum(t.amount) filter (where t.kind in ('release', 'expire', 'capture_return')), 0)::int8 as returned
    from holds h left join transfers t on t.hold_id = h.id
    group by h.id`.execute(db);
  const { rows: totals } = await sql<{ type: string; kept: string; scanned: string }>`
    with kept as (select type, sum(accounts)::int8 as n, sum(balance)::int8 as b, sum(debits)::int8 as d, sum(credits)::int8 as c from account_totals group by type),
         moved as (select a.type, sum(x.d)::int8 as d, sum(x.c)::int8 as c
                   from (select debit_account_id as acc, amount as d, 0 as c from transfers union all select credit_account_id, 0, amount from transfers) x
                   join accounts a on a.id = x.acc group by a.type),
         held as (select type, count(*)::int8 as n, sum(balance)::int8 as b from accounts group by type),
         scanned as (select coalesce(h.type, m.type) as type, coalesce(h.n, 0) as n, coalesce(h.b, 0) as b, coalesce(m.d, 0) as d, coalesce(m.c, 0) as c
                     from held h full join moved m on m.type = h.type)
    select coalesce(k.type, s.type) as type,
           concat_ws('/', coalesce(k.n, 0), coalesce(k.b, 0), coalesce(k.d, 0), coalesce(k.c, 0)) as kept,
           concat_ws('/', coalesce(s.n, 0), coalesce(s.b, 0), coalesce(s.d, 0), coalesce(s.c, 0)) as scanned
    from kept k full join scanned s on s.type = k.type`.execute(db);
  for (const t of totals) if (t.kept !== t.scanned) problems.push(`account totals of ${t.type} say ${t.kept} (accounts/balance/debits/credits) but the accounts and transfers ${t.scanned}`);
  for (const h of holds) {
    const placed = h.reserves === 1;
    if (h.reserves > 1) problems.push(`hold ${h.id} reserved ${h.reserves} times`);
    if (['open', 'captured', 'released', 'expired'].includes(h.status) !== placed) problems.push(`hold ${h.id} is ${h.status} with ${h.reserves} reserve transfers`);
    if (h.status === 'open' && h.resolutions !== 0) problems.push(`open hold ${h.id} has resolution transfers`);
    if (['released', 'expired'].includes(h.status) && (h.returned !== h.amount || h.consumed !== 0)) problems.push(`hold ${h.id} ${h.status} but returned ${h.returned}`);
    if (h.status === 'captured' && (h.consumed !== h.captured || h.consumed + h.returned !== h.amount)) problems.push(`hold ${h.id} captured inconsistently`);
    if (['rejected', 'void'].includes(h.status) && h.resolutions + h.reserves !== 0) problems.push(`hold ${h.id} ${h.status} but has transfers`);
  }
  return problems;
}
