import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@imlab/db';
import { createLogger } from '@imlab/logger';
import { Registry } from 'prom-client';
import { eventually } from '@imlab/testing';
import * as ledger from '../src/ledger/ledger.service.js';
import * as finance from '../src/finance/finance.service.js';
import { purgeUser } from '../src/privacy/privacy.service.js';
import { startBackground } from '../src/background.js';
import { monthsToRollUp, ROLL_UP_AFTER_MS, rollUpClosedMonths } from '../src/finance/totals.js';
import { backdate, idsAfter, inMinutes, invariantViolations, maxTransferId, monthStart, startLedger, user, type TestLedger } from './support/ledger.js';

// Monthly totals (finance/totals.ts): the trial balance and the system accounts' balances add the
// totals of the months rolled up to the transfers of the rest. Whatever is rolled up, every figure
// as of every instant is what the transfers themselves say; a purge reopens its months.

let L: TestLedger;
beforeAll(async () => {
  L = await startLedger('ledger-totals', { poolSize: 8 });
});
afterAll(async () => {
  await L?.close();
});

const SYSTEM = ['issuance', 'promo', 'consumed', 'forfeited', 'debt', 'erased'] as const;
const now = new Date();
/** An hour into this month: every earlier month may be rolled up. */
const afterLastMonth = new Date(monthStart(now).getTime() + ROLL_UP_AFTER_MS);

const grant = (userId: string, amount: number) => {
  const key = `order:${randomUUID()}`;
  return L.run((tx) => ledger.grant(tx, L.deps, { idempotencyKey: key, userId, amount, source: 'purchase', reference: key }));
};
/** A purchase, two generations (one captured in part, one released), dated `at`. */
async function activity(userId: string, at: Date): Promise<void> {
  const start = await maxTransferId(L.db);
  await grant(userId, 50);
  const [h1, h2] = [randomUUID(), randomUUID()];
  await L.run((tx) => ledger.reserve(tx, L.deps, { holdId: h1, userId, amount: 9, expiresAt: inMinutes(10), reference: `generation:${h1}` }));
  await L.run((tx) => ledger.capture(tx, L.deps, { holdId: h1, amount: 7 }, new Date()));
  await L.run((tx) => ledger.reserve(tx, L.deps, { holdId: h2, userId, amount: 4, expiresAt: inMinutes(10), reference: `generation:${h2}` }));
  await L.run((tx) => ledger.release(tx, L.deps, { holdId: h2, reason: 'canceled' }));
  await backdate(L.db, await idsAfter(L.db, start), at);
}

type Figures = Record<string, [debits: number, credits: number]>;
/** The oracle: debits and credits per system account and per user account type, summed from the transfers where `cond` holds. */
async function fromTransfers(cond: ReturnType<typeof sql>): Promise<Figures> {
  const { rows } = await sql<{ key: string; debits: number; credits: number }>`
    select a.type || '/' || case when a.owner_id is null then a.id::text else '' end as key,
           sum(case when x.side = 'd' then x.amount else 0 end)::int8 as debits,
           sum(case when x.side = 'c' then x.amount else 0 end)::int8 as credits
    from (select debit_account_id as acc, amount, 'd' as side, created_at from transfers
          union all
          select credit_account_id, amount, 'c', created_at from transfers) x
    join accounts a on a.id = x.acc
    where ${cond}
    group by 1`.execute(L.db);
  return Object.fromEntries(rows.map((r) => [r.key, [r.debits, r.credits]]));
}
async function trialBalanceAt(at: Date | null): Promise<Figures> {
  const tb = await finance.trialBalance(L.db, at);
  expect(tb.totals.balance).toBe(0);
  return Object.fromEntries(tb.lines.filter((l) => l.debits !== 0 || l.credits !== 0).map((l) => [`${l.type}/${l.accountId ?? ''}`, [l.debits, l.credits]]));
}
const systemBalance = (f: Figures, type: string) => {
  const [d, c] = f[`${type}/${L.deps.system[type as keyof typeof L.deps.system]}`] ?? [0, 0];
  return c - d;
};
const rolledMonths = async () => (await L.db.selectFrom('total_months').select('month').orderBy('month').execute()).map((r) => r.month.toISOString());

/** Every figure as of each instant, from the reads (trial balance, system balances, a statement) against the oracle. */
async function expectFiguresAsTheTransfersSay(instants: Date[]): Promise<void> {
  expect(await trialBalanceAt(null)).toEqual(await fromTransfers(sql`true`));
  for (const at of instants) {
    const oracle = await fromTransfers(sql`x.created_at <= ${at}`);
    expect(await trialBalanceAt(at), `trial balance as of ${at.toISOString()}`).toEqual(oracle);
    for (const type of SYSTEM) {
      const b = await finance.balanceAt(L.db, L.deps.system[type], at);
      expect(b.balance, `${type} as of ${at.toISOString()}`).toBe(systemBalance(oracle, type));
    }
  }
  // A month's statement of `consumed`: opening and closing balances (strictly before each end).
  const [from, to] = [monthStart(now, -2), monthStart(now, -1)];
  const s = await finance.statement(L.db, L.deps.system.consumed, from, to, 0, 1000);
  expect(s.openingBalance).toBe(systemBalance(await fromTransfers(sql`x.created_at < ${from}`), 'consumed'));
  expect(s.closingBalance).toBe(systemBalance(await fromTransfers(sql`x.created_at < ${to}`), 'consumed'));
}

describe('monthly totals', () => {
  const people = [user(), user(), user()];
  const instants = [
    new Date(monthStart(now, -4).getTime() - 1),
    monthStart(now, -3),
    new Date(monthStart(now, -2).getTime() - 1),
    monthStart(now, -2),
    new Date(monthStart(now, -2).getTime() + 10 * 86400_000),
    new Date(monthStart(now, -1).getTime() - 1),
    monthStart(now, -1),
    monthStart(now),
    now,
  ];

  beforeAll(async () => {
    // Four months back, none three months back (a month with no transfer), two months back at its
    // first and its last instant and in between, last month, and this month.
    await activity(people[0]!, monthStart(now, -4));
    await activity(people[1]!, monthStart(now, -2));
    await activity(people[0]!, new Date(monthStart(now, -2).getTime() + 10 * 86400_000));
    await activity(people[2]!, new Date(monthStart(now, -1).getTime() - 1));
    await activity(people[1]!, new Date(monthStart(now, -1).getTime() + 3 * 86400_000));
    await activity(people[2]!, new Date());
  }, 60_000);

  it('rolls up each month ended an hour ago, not the month under way nor one ended less than an hour ago', async () => {
    expect((await monthsToRollUp(L.db, new Date(afterLastMonth.getTime() - 60_000))).map((m) => m.toISOString())).toEqual(
      [-4, -3, -2].map((k) => monthStart(now, k).toISOString()),
    );
    expect((await monthsToRollUp(L.db, afterLastMonth)).map((m) => m.toISOString())).toEqual([-4, -3, -2, -1].map((k) => monthStart(now, k).toISOString()));
  });

  it('gives every figure as of every instant as the transfers say, before and after the months are rolled up', async () => {
    await expectFiguresAsTheTransfersSay(instants);
    expect(await rollUpClosedMonths(L.db, afterLastMonth, 12)).toBe(4);
    expect(await rolledMonths()).toEqual([-4, -3, -2, -1].map((k) => monthStart(now, k).toISOString()));
    expect(await rollUpClosedMonths(L.db, afterLastMonth, 12)).toBe(0);
    await expectFiguresAsTheTransfersSay(instants);
    // People are counted per type, never named: the totals hold a person's account only as a type.
    const keys = await L.db.selectFrom('monthly_totals').select(['type', 'account_id']).execute();
    for (const k of keys) expect(k.account_id === null).toBe(k.type === 'available' || k.type === 'held');
    expect(await invariantViolations(L.db)).toEqual([]);
  });

  it('reads the totals, not the transfers, for the months rolled up', async () => {
    await rollUpClosedMonths(L.db, afterLastMonth, 12);
    const before = await finance.balanceAt(L.db, L.deps.system.consumed, null);
    const month = monthStart(now, -2);
    const change = (by: number) => sql`update monthly_totals set debits = debits + ${by} where month = ${month} and account_id = ${L.deps.system.consumed}`.execute(L.db);
    await change(7);
    try {
      expect((await finance.balanceAt(L.db, L.deps.system.consumed, null)).balance).toBe(before.balance - 7);
      const tb = await finance.trialBalance(L.db, null);
      expect(tb.totals.balance).toBe(-7);
    } finally {
      await change(-7);
    }
    expect((await finance.balanceAt(L.db, L.deps.system.consumed, null)).balance).toBe(before.balance);
  });

  it('a purge reopens the months it rewrites; racing roll-ups, every month rolled up still sums its transfers', async () => {
    const purged = [user(), user(), user()];
    for (const p of purged) {
      await activity(p, new Date(monthStart(now, -2).getTime() + 5 * 86400_000));
      await activity(p, new Date(monthStart(now, -1).getTime() + 5 * 86400_000));
    }
    await rollUpClosedMonths(L.db, afterLastMonth, 12);
    // A purge alone: its two months are dropped, the others kept.
    await L.run((tx) => purgeUser(tx, purged[0]!));
    expect(await rolledMonths()).toEqual([-4, -3].map((k) => monthStart(now, k).toISOString()));
    await expectFiguresAsTheTransfersSay(instants);

    // Purges and roll-ups at once, several times: whatever order the lock gives them.
    for (const p of purged.slice(1)) {
      await Promise.all([rollUpClosedMonths(L.db, afterLastMonth, 12), L.run((tx) => purgeUser(tx, p)), rollUpClosedMonths(L.db, afterLastMonth, 12)]);
      await sql`delete from total_months where month = ${monthStart(now, -4)}`.execute(L.db);
      await Promise.all([L.run((tx) => purgeUser(tx, user())), rollUpClosedMonths(L.db, afterLastMonth, 12)]);
    }
    const months = await L.db.selectFrom('total_months').select('month').execute();
    for (const { month } of months) {
      const end = monthStart(month, 1);
      const rolled = Object.fromEntries(
        (await L.db.selectFrom('monthly_totals').selectAll().where('month', '=', month).execute())
          .filter((t) => t.debits !== 0 || t.credits !== 0)
          .map((t) => [`${t.type}/${t.account_id ?? ''}`, [t.debits, t.credits]]),
      );
      expect(rolled, month.toISOString()).toEqual(await fromTransfers(sql`x.created_at >= ${month} and x.created_at < ${end}`));
    }
    await expectFiguresAsTheTransfersSay(instants);
    expect(await invariantViolations(L.db)).toEqual([]);
  });

  it('the service rolls them up in the background', async () => {
    await sql`delete from total_months`.execute(L.db);
    // Months ended an hour ago or more: when this runs in the first hour of a month, its last month is not yet due.
    const due = (await monthsToRollUp(L.db, new Date())).map((m) => m.toISOString());
    expect(due.length).toBeGreaterThanOrEqual(3);
    const bg = startBackground({
      db: L.db,
      deps: L.deps,
      logger: createLogger({ service: 'credits-ledger', level: 'silent' }),
      sweepMs: 60_000,
      holdGraceSeconds: 0,
      sealMs: 50,
      sealSecret: L.config.LEDGER_SEAL_SECRET,
      outboxPollMs: 60_000,
      verifyMs: 60_000,
      registry: new Registry(),
    });
    try {
      await eventually(async () => (await rolledMonths()).length === due.length);
      expect(await rolledMonths()).toEqual(due);
    } finally {
      await bg.close();
    }
    await expectFiguresAsTheTransfersSay(instants);
  });
});
