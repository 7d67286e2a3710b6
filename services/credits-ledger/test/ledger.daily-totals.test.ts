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
import { daysToRollUp, ROLL_UP_AFTER_MS, rollUpClosedDays } from '../src/finance/totals.js';
import { verifyAccountTotals } from '../src/finance/account-totals.js';
import { backdate, idsAfter, inMinutes, invariantViolations, maxTransferId, monthStart, startLedger, user, type TestLedger } from './support/ledger.js';

// Daily totals (finance/totals.ts): the trial balance and the system accounts' balances add the
// totals of the days rolled up to the transfers of the rest. Whatever is rolled up, every figure as
// of every instant is what the transfers themselves say; a purge reopens its days.

let L: TestLedger;
beforeAll(async () => {
  L = await startLedger('ledger-totals', { poolSize: 8 });
});
afterAll(async () => {
  await L?.close();
});

const SYSTEM = ['issuance', 'promo', 'consumed', 'forfeited', 'debt', 'erased'] as const;
const now = new Date();
/** An hour into this month: every earlier day may be rolled up. */
const afterLastMonth = new Date(monthStart(now).getTime() + ROLL_UP_AFTER_MS);
const DAY = 86_400_000;
const dayOf = (d: Date) => new Date(Math.floor(d.getTime() / DAY) * DAY);
/** Every day from `from`'s to the one before `to`'s, as ISO strings. */
const daysBetween = (from: Date, to: Date) => {
  const out: string[] = [];
  for (let t = dayOf(from).getTime(); t < dayOf(to).getTime(); t += DAY) out.push(new Date(t).toISOString());
  return out;
};

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
const rolledDays = async () => (await L.db.selectFrom('total_days').select('day').orderBy('day').execute()).map((r) => r.day.toISOString());

/** Every figure as of each instant, from the reads (trial balance, system balances, a statement) against the oracle. */
async function expectFiguresAsTheTransfersSay(instants: Date[]): Promise<void> {
  const all = await fromTransfers(sql`true`);
  expect(await trialBalanceAt(null)).toEqual(all);
  for (const type of SYSTEM) expect((await finance.balanceAt(L.db, L.deps.system[type], null)).balance, `${type} now`).toBe(systemBalance(all, type));
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

describe('daily totals', () => {
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

  it('rolls up each day ended an hour ago, from the first transfer on; not today, nor a day ended less than an hour ago', async () => {
    const first = monthStart(now, -4);
    expect((await daysToRollUp(L.db, new Date(afterLastMonth.getTime() - 60_000))).map((d) => d.toISOString())).toEqual(daysBetween(first, new Date(monthStart(now).getTime() - DAY)));
    expect((await daysToRollUp(L.db, afterLastMonth)).map((d) => d.toISOString())).toEqual(daysBetween(first, monthStart(now)));
  });

  it('gives every figure as of every instant as the transfers say, before and after the days are rolled up', async () => {
    await expectFiguresAsTheTransfersSay(instants);
    const due = daysBetween(monthStart(now, -4), monthStart(now));
    // a few days per run, oldest first: a partly rolled-up history reads right too
    expect(await rollUpClosedDays(L.db, afterLastMonth, 40)).toBe(40);
    expect(await rolledDays()).toEqual(due.slice(0, 40));
    await expectFiguresAsTheTransfersSay(instants);
    expect(await rollUpClosedDays(L.db, afterLastMonth, 400)).toBe(due.length - 40);
    expect(await rolledDays()).toEqual(due);
    expect(await rollUpClosedDays(L.db, afterLastMonth, 400)).toBe(0);
    await expectFiguresAsTheTransfersSay(instants);
    // People are counted per type, never named: the totals hold a person's account only as a type.
    const keys = await L.db.selectFrom('daily_totals').select(['type', 'account_id']).execute();
    for (const k of keys) expect(k.account_id === null).toBe(k.type === 'available' || k.type === 'held');
    expect(await invariantViolations(L.db)).toEqual([]);
  });

  it('reads the totals, not the transfers, for the days rolled up', async () => {
    await rollUpClosedDays(L.db, afterLastMonth, 400);
    const before = await finance.balanceAt(L.db, L.deps.system.consumed, null);
    const day = monthStart(now, -2);
    const change = (by: number) => sql`update daily_totals set debits = debits + ${by} where day = ${day} and account_id = ${L.deps.system.consumed}`.execute(L.db);
    await change(7);
    try {
      // as of an instant from the days' totals; now from the account totals
      expect((await finance.balanceAt(L.db, L.deps.system.consumed, new Date())).balance).toBe(before.balance - 7);
      expect((await finance.balanceAt(L.db, L.deps.system.consumed, null)).balance).toBe(before.balance);
      // As of an instant, the trial balance adds the days' totals; now, it reads the account
      // totals (account-totals.ts), and the verifier sees the two disagree.
      expect((await finance.trialBalance(L.db, new Date())).totals.balance).toBe(-7);
      expect((await finance.trialBalance(L.db, null)).totals.balance).toBe(0);
      expect(await verifyAccountTotals(L.db)).toEqual([expect.objectContaining({ type: 'consumed', kept: expect.objectContaining({ debits: expect.any(Number) }) })]);
    } finally {
      await change(-7);
    }
    expect((await finance.balanceAt(L.db, L.deps.system.consumed, null)).balance).toBe(before.balance);
  });

  it('a purge reopens the days it rewrites; racing roll-ups, every day rolled up still sums its transfers', async () => {
    const purged = [user(), user(), user()];
    const theirDays = [new Date(monthStart(now, -2).getTime() + 5 * DAY + 3_600_000), new Date(monthStart(now, -1).getTime() + 5 * DAY + 3_600_000)];
    for (const p of purged) for (const at of theirDays) await activity(p, at);
    await rollUpClosedDays(L.db, afterLastMonth, 400);
    const all = await rolledDays();
    // A purge alone: the days of their transfers and the first days of those months (where their
    // aggregates are dated) are dropped, the others kept.
    await L.run((tx) => purgeUser(tx, purged[0]!));
    const reopened = [...theirDays.map(dayOf), monthStart(now, -2), monthStart(now, -1)].map((d) => d.toISOString());
    expect(await rolledDays()).toEqual(all.filter((d) => !reopened.includes(d)));
    await expectFiguresAsTheTransfersSay(instants);

    // Purges and roll-ups at once, several times: whatever order the lock gives them.
    for (const p of purged.slice(1)) {
      await Promise.all([rollUpClosedDays(L.db, afterLastMonth, 400), L.run((tx) => purgeUser(tx, p)), rollUpClosedDays(L.db, afterLastMonth, 400)]);
      await sql`delete from total_days where day >= ${monthStart(now, -4)} and day < ${monthStart(now, -3)}`.execute(L.db);
      await Promise.all([L.run((tx) => purgeUser(tx, user())), rollUpClosedDays(L.db, afterLastMonth, 400)]);
    }
    const days = await L.db.selectFrom('total_days').select('day').execute();
    expect(days.length).toBeGreaterThan(60);
    const rolled = await L.db.selectFrom('daily_totals').selectAll().execute();
    for (const { day } of days) {
      const mine = Object.fromEntries(
        rolled.filter((t) => t.day.getTime() === day.getTime() && (t.debits !== 0 || t.credits !== 0)).map((t) => [`${t.type}/${t.account_id ?? ''}`, [t.debits, t.credits]]),
      );
      expect(mine, day.toISOString()).toEqual(await fromTransfers(sql`x.created_at >= ${day} and x.created_at < ${new Date(day.getTime() + DAY)}`));
    }
    await expectFiguresAsTheTransfersSay(instants);
    expect(await invariantViolations(L.db)).toEqual([]);
  });

  it('does not roll up a day while a transaction begun before it ended is still open (it could still date a transfer in it)', async () => {
    const today = dayOf(new Date());
    // as if it were two hours into tomorrow: today is due
    const later = new Date(today.getTime() + DAY + 2 * 3_600_000);
    // every day before today rolled up
    await rollUpClosedDays(L.db, new Date(today.getTime() + ROLL_UP_AFTER_MS), 400);
    // a transaction begun now, on a connection of its own, held open
    let opened!: () => void;
    let finish!: () => void;
    const isOpen = new Promise<void>((r) => (opened = r));
    const done = new Promise<void>((r) => (finish = r));
    const held = L.db.connection().execute(async (conn) => {
      await sql`begin`.execute(conn);
      await sql`select 1`.execute(conn);
      opened();
      await done;
      await sql`commit`.execute(conn);
    });
    try {
      await isOpen;
      expect(await rollUpClosedDays(L.db, later, 400)).toBe(0);
      expect(await rolledDays()).not.toContain(today.toISOString());
      finish();
      await held;
      expect(await rollUpClosedDays(L.db, later, 400)).toBe(1);
      expect(await rolledDays()).toContain(today.toISOString());
    } finally {
      finish();
      await held;
      // the other tests date transfers today before moving them: today must stay open for them
      await sql`delete from total_days where day >= ${today}`.execute(L.db);
    }
  });

  it('the service rolls them up in the background', async () => {
    await sql`delete from total_days`.execute(L.db);
    // Days ended an hour ago or more, from the first transfer's on.
    const due = (await daysToRollUp(L.db, new Date())).map((d) => d.toISOString());
    expect(due.length).toBeGreaterThanOrEqual(100);
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
      await eventually(async () => (await rolledDays()).length === due.length);
      expect(await rolledDays()).toEqual(due);
    } finally {
      await bg.close();
    }
    await expectFiguresAsTheTransfersSay(instants);
  });
});
