import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Transaction } from '@imlab/db';
import { eventually } from '@imlab/testing';
import type { DB } from '../src/db.js';
import * as ledger from '../src/ledger/ledger.service.js';
import { findUserAccounts } from '../src/ledger/ledger.repository.js';
import { eraseAnonymizedAccounts, purgeUser } from '../src/privacy/privacy.service.js';
import { sealAll, verify } from '../src/audit/audit.service.js';
import * as finance from '../src/finance/finance.service.js';
import { backdate as backdateTransfers, idsAfter as transfersAfter, inMinutes, invariantViolations, maxTransferId as maxId, monthStart, startLedger, user, type TestLedger } from './support/ledger.js';
import { ROLL_UP_AFTER_MS, rollUpClosedDays } from '../src/finance/totals.js';

// user.purge removes the person's transfers; the books still balance, the system accounts' figures
// do not move in any calendar month, and the hash chain still verifies (docs/architecture.md).

let L: TestLedger;
beforeAll(async () => {
  L = await startLedger('ledger-erasure', { poolSize: 12 });
});
afterAll(async () => {
  await L?.close();
});

const secret = () => L.config.LEDGER_SEAL_SECRET;
const sealEverything = () =>
  eventually(async () => {
    await sealAll(L.db, secret());
    return (await verify(L.db, secret())).unsealedTransfers === 0;
  });

const grant = (userId: string, amount: number, source: 'purchase' | 'promo' = 'purchase', idempotencyKey = `order:${randomUUID()}`) =>
  L.run((tx) => ledger.grant(tx, L.deps, { idempotencyKey, userId, amount, source, reference: idempotencyKey }));
const reserve = (userId: string, holdId: string, amount: number) =>
  L.run((tx) => ledger.reserve(tx, L.deps, { holdId, userId, amount, expiresAt: inMinutes(10), reference: `generation:${holdId}` }));
const capture = (holdId: string, amount?: number) => L.run((tx) => ledger.capture(tx, L.deps, { holdId, ...(amount === undefined ? {} : { amount }) }, new Date()));
const release = (holdId: string) => L.run((tx) => ledger.release(tx, L.deps, { holdId, reason: 'canceled' }));

const backdate = (ids: number[], to: Date) => backdateTransfers(L.db, ids, to);
const maxTransferId = () => maxId(L.db);
const idsAfter = (id: number) => transfersAfter(L.db, id);
const SYSTEM = ['issuance', 'promo', 'consumed', 'forfeited', 'debt'] as const;

/** What finance sees of the system accounts: trial balance now and at the end of last month, and both months' statements. */
async function financeView() {
  const now = new Date();
  const thisMonth = monthStart(now);
  const lastMonth = monthStart(now, -1);
  const nextMonth = monthStart(now, 1);
  const tbNow = await finance.trialBalance(L.db, null);
  const tbLast = await finance.trialBalance(L.db, new Date(thisMonth.getTime() - 1));
  const system = (tb: typeof tbNow) => Object.fromEntries(tb.lines.filter((l) => (SYSTEM as readonly string[]).includes(l.type)).map((l) => [l.type, { debits: l.debits, credits: l.credits }]));
  const statements: Record<string, unknown> = {};
  for (const type of SYSTEM) {
    for (const [name, from, to] of [
      ['last', lastMonth, thisMonth],
      ['this', thisMonth, nextMonth],
    ] as const) {
      const s = await finance.statement(L.db, L.deps.system[type], from, to, 0, 1000);
      expect(s.nextCursor).toBeNull();
      const debits = s.items.filter((i) => i.side === 'debit').reduce((t, i) => t - i.amount, 0);
      const credits = s.items.filter((i) => i.side === 'credit').reduce((t, i) => t + i.amount, 0);
      statements[`${type}:${name}`] = { opening: s.openingBalance, closing: s.closingBalance, debits, credits };
    }
  }
  const users = (tb: typeof tbNow) => tb.lines.filter((l) => l.scope === 'users' || l.type === 'erased').reduce((t, l) => t + l.balance, 0);
  return { systemNow: system(tbNow), systemLastMonth: system(tbLast), statements, tbNow, tbLast, peopleAndErased: users(tbNow), peopleAndErasedLast: users(tbLast) };
}

/** financeView without the instants it was taken at. */
const figures = (v: Awaited<ReturnType<typeof financeView>>) => ({ ...v, tbNow: v.tbNow.lines, tbLast: v.tbLast.lines });
const rolledDays = async () => (await L.db.selectFrom('total_days').select('day').execute()).map((r) => r.day);
const dayOf = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));

/** Rows of any ledger table (the outbox and inbox aside: messages on their way) whose text contains one of `needles`. */
async function rowsNaming(needles: string[]): Promise<string[]> {
  const { rows: tables } = await sql<{ t: string }>`
    select table_name as t from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name not in ('outbox', 'inbox')`.execute(L.db);
  const hits: string[] = [];
  for (const { t } of tables) {
    for (const needle of needles) {
      const { rows } = await sql<{ n: string }>`select count(*) as n from ${sql.table(t)} r where r::text like ${'%' + needle + '%'}`.execute(L.db);
      if (Number(rows[0]!.n) > 0) hits.push(`${t}: ${needle}`);
    }
  }
  return hits;
}

async function tamper(where: string, amount: number): Promise<void> {
  await L.db.transaction().execute(async (tx: Transaction<DB>) => {
    await sql`alter table transfers disable trigger transfers_immutable`.execute(tx);
    await sql`update transfers set amount = amount + ${amount} where id = ${Number(where)}`.execute(tx);
    await sql`alter table transfers enable trigger transfers_immutable`.execute(tx);
  });
}

describe('user.purge removes the person’s transactions', () => {
  it('deletes two months of history; the trial balance, both months’ statements and verify are unchanged, tampering still shows', async () => {
    const p = user();
    const others = [user(), user()];
    const now = new Date();
    const lastMonthMid = new Date(monthStart(now).getTime() - 10 * 86400_000);

    // Last month: purchases, a bonus, generations captured and released, others alongside.
    const start = await maxTransferId();
    const order = `order:${randomUUID()}`;
    await grant(p, 100, 'purchase', order);
    await grant(p, 40, 'promo');
    for (const o of others) await grant(o, 60);
    const [h1, h2, h3] = [randomUUID(), randomUUID(), randomUUID()];
    await reserve(p, h1, 10);
    await capture(h1);
    await reserve(p, h2, 6);
    await release(h2);
    await reserve(others[0]!, h3, 8);
    await capture(h3, 5);
    await backdate(await idsAfter(start), lastMonthMid);
    await sealEverything();

    // This month: a partial capture, a refund clawing back more than is left (debt), a dispute won
    // (restore), an open hold; some of it sealed, the rest not yet when the purge runs.
    const [h4, h5, h6] = [randomUUID(), randomUUID(), randomUUID()];
    await reserve(p, h4, 20);
    await capture(h4, 12);
    await L.run((tx) => ledger.clawback(tx, L.deps, { idempotencyKey: `${order}:refund:1`, userId: p, amount: 150, reference: order, after: order }));
    await L.run((tx) => ledger.restore(tx, L.deps, { idempotencyKey: `${order}:dispute:1`, userId: p, amount: 30, reference: order, after: `${order}:refund:1` }));
    await reserve(others[1]!, h5, 9);
    await sealEverything();
    await grant(p, 25, 'promo');
    await reserve(p, h6, 4); // open at purge time
    await grant(others[1]!, 3);

    const acc = (await findUserAccounts(L.db, p))!;
    const ids = [acc.availableId, acc.heldId];
    expect(acc).toMatchObject({ available: 21, held: 4 });
    // Last month's days rolled up (finance/totals.ts): its figures now come from their totals, and are the same.
    const scanned = await financeView();
    const rollUp = () => rollUpClosedDays(L.db, new Date(monthStart(now).getTime() + ROLL_UP_AFTER_MS), 400);
    // their days: of their transfers, and the first of that month, where their aggregates will be dated
    const theirDays = [dayOf(lastMonthMid), monthStart(now, -1)];
    expect(await rollUp()).toBeGreaterThanOrEqual(10);
    expect(await rolledDays()).toContainEqual(theirDays[0]);
    const before = await financeView();
    expect(figures(before)).toEqual(figures(scanned));
    const othersBefore = await Promise.all(others.map((o) => findUserAccounts(L.db, o)));
    const personTransfers = Number(
      (await sql<{ n: string }>`select count(*) as n from transfers where debit_account_id = any(${ids}::uuid[]) or credit_account_id = any(${ids}::uuid[]) or subject_id = any(${ids}::uuid[])`.execute(L.db)).rows[0]!.n,
    );
    expect(await rowsNaming([p])).not.toEqual([]);

    const result = await L.run((tx) => purgeUser(tx, p));
    expect(result).toMatchObject({ accounts: 2, transfers: personTransfers });

    // Their transfers, holds, postings and accounts are gone; no row names them or their accounts.
    expect(await rowsNaming([p, ...ids, order])).toEqual([]);
    expect(await findUserAccounts(L.db, p)).toBeUndefined();
    expect(await L.db.selectFrom('holds').select('id').where('id', 'in', [h1, h2, h4, h6]).execute()).toEqual([]);
    // The others are untouched.
    expect(await Promise.all(others.map((o) => findUserAccounts(L.db, o)))).toEqual(othersBefore);

    // Every system account's figures, now and at the end of last month, and both months' statements.
    const after = await financeView();
    // The totals of their days (and of the day their aggregates are dated) no longer held: dropped by
    // the purge; rolled up again, the same figures.
    for (const day of theirDays) expect(await rolledDays()).not.toContainEqual(day);
    expect(after.systemNow).toEqual(before.systemNow);
    expect(after.systemLastMonth).toEqual(before.systemLastMonth);
    expect(after.statements).toEqual(before.statements);
    // What the person still had (21 available + 4 held) stays on `erased`; the totals balance.
    expect(after.peopleAndErased).toBe(before.peopleAndErased);
    expect(after.peopleAndErasedLast).toBe(before.peopleAndErasedLast);
    expect(after.tbNow.lines.find((l) => l.type === 'erased')).toMatchObject({ scope: 'system', balance: 25 });
    expect(after.tbNow.totals.balance).toBe(0);
    expect(after.tbNow.storedBalancesMatch).toBe(true);
    expect(await invariantViolations(L.db)).toEqual([]);
    await rollUp();
    for (const day of theirDays) expect(await rolledDays()).toContainEqual(day);
    expect(figures(await financeView())).toEqual(figures(after));
    // The aggregates say nothing finer than a month: dated at its first instant, no hold, posting or reference.
    const aggregates = await sql<{ created_at: Date; hold_id: string | null; posting_id: number | null; reference: string | null; subject_id: string | null }>`
      select created_at, hold_id, posting_id, reference, subject_id from transfers where debit_account_id = ${L.deps.system.erased} or credit_account_id = ${L.deps.system.erased}`.execute(L.db);
    expect(aggregates.rows.length).toBeGreaterThan(0);
    for (const a of aggregates.rows) {
      expect([monthStart(now).getTime(), monthStart(now, -1).getTime()]).toContain(a.created_at.getTime());
      expect([a.hold_id, a.posting_id, a.reference, a.subject_id]).toEqual([null, null, null, null]);
    }

    // The chain: verify passes over the gaps, before and after the aggregates are sealed.
    expect(await verify(L.db, secret())).toMatchObject({ ok: true, firstMismatch: null });
    await sealEverything();
    expect(await verify(L.db, secret())).toMatchObject({ ok: true, unsealedTransfers: 0 });

    // Tampering a remaining transfer sealed with erased ones is still found, and so is a changed kept hash.
    const erased = await L.db.selectFrom('erased_transfer_hashes').selectAll().orderBy('transfer_id').execute();
    expect(erased.length).toBeGreaterThan(0);
    const neighbour = await sql<{ id: number }>`select id from transfers where id > ${erased[0]!.transfer_id} order by id limit 1`.execute(L.db);
    const victim = String(neighbour.rows[0]!.id);
    await tamper(victim, 1000);
    expect(await verify(L.db, secret())).toMatchObject({ ok: false, firstMismatch: { reason: 'hash' } });
    await tamper(victim, -1000);
    expect(await verify(L.db, secret())).toMatchObject({ ok: true });
    await sql`update erased_transfer_hashes set hash = ${'f'.repeat(64)} where transfer_id = ${erased[0]!.transfer_id}`.execute(L.db);
    expect(await verify(L.db, secret())).toMatchObject({ ok: false, firstMismatch: { reason: 'hash' } });
    await sql`update erased_transfer_hashes set hash = ${erased[0]!.hash} where transfer_id = ${erased[0]!.transfer_id}`.execute(L.db);
    expect(await verify(L.db, secret())).toMatchObject({ ok: true });
    // Outside a purge nothing may delete a transfer.
    await expect(sql`delete from transfers where id = ${Number(victim)}`.execute(L.db)).rejects.toThrow(/immutable/);

    // The message delivered twice: the second purge changes nothing.
    const count = async () => Number((await sql<{ n: string }>`select count(*) as n from transfers`.execute(L.db)).rows[0]!.n);
    const transfersAfter = await count();
    expect(await L.run((tx) => purgeUser(tx, p))).toEqual({ accounts: 0, transfers: 0, aggregates: 0 });
    expect(await count()).toBe(transfersAfter);
    expect((await financeView()).statements).toEqual(before.statements);

    // Commands still in flight for them are no-ops (the tombstone): nothing reopened, nothing moves.
    expect(await capture(h6)).toEqual({ status: 'noop', hold: 'void' });
    expect(await grant(p, 10)).toEqual({ amount: 0, debt: 0 });
    expect(await L.run((tx) => ledger.clawback(tx, L.deps, { idempotencyKey: `${order}:refund:2`, userId: p, amount: 5, reference: order }))).toEqual({ amount: 0, debt: 0 });
    expect(await reserve(p, randomUUID(), 1)).toMatchObject({ status: 'rejected' });
    expect(await findUserAccounts(L.db, p)).toBeUndefined();
    expect(await count()).toBe(transfersAfter);
    expect(await rowsNaming([p, ...ids])).toEqual([]);
    expect(await invariantViolations(L.db)).toEqual([]);
  });

  it('lets a transfer be deleted only for the accounts the transaction names, and a sealed one only after its chain hashes are kept', async () => {
    const p = user();
    const other = user();
    await grant(p, 4);
    await grant(other, 4);
    await sealEverything();
    await grant(p, 1); // not sealed
    const acc = (await findUserAccounts(L.db, p))!;
    const [sealed, unsealed] = (await sql<{ id: number }>`select id from transfers where credit_account_id = ${acc.availableId} order by id`.execute(L.db)).rows.map((r) => Number(r.id));
    const othersId = Number((await sql<{ id: number }>`select id from transfers where credit_account_id = ${(await findUserAccounts(L.db, other))!.availableId}`.execute(L.db)).rows[0]!.id);
    const attempt = (id: number) =>
      L.db.transaction().execute(async (tx) => {
        await sql`select set_config('imlab.ledger_erase_accounts', ${acc.availableId}, true)`.execute(tx);
        await sql`delete from transfers where id = ${id}`.execute(tx);
        throw new Error('rolled back');
      });
    await expect(attempt(othersId)).rejects.toThrow(/immutable/);
    await expect(attempt(sealed!)).rejects.toThrow(/chain hashes/);
    await expect(attempt(unsealed!)).rejects.toThrow(/rolled back/); // allowed: never in the chain
    expect(await verify(L.db, secret())).toMatchObject({ ok: true });
  });

  it('refuses to erase inside a checkpoint that does not verify (it would hide the tampering)', async () => {
    const p = user();
    await grant(p, 9);
    await sealEverything();
    const acc = (await findUserAccounts(L.db, p))!;
    const t = await sql<{ id: number }>`select id from transfers where credit_account_id = ${acc.availableId}`.execute(L.db);
    const id = String(t.rows[0]!.id);
    // Another transfer sealed in the same checkpoint would do too; the person's own is simplest.
    await L.db.transaction().execute(async (tx) => {
      await sql`alter table transfers disable trigger transfers_immutable`.execute(tx);
      await sql`update transfers set kind = 'grant_promo' where id = ${Number(id)}`.execute(tx);
      await sql`alter table transfers enable trigger transfers_immutable`.execute(tx);
    });
    await expect(L.run((tx) => purgeUser(tx, p))).rejects.toMatchObject({ code: 'LEDGER_INVARIANT_BROKEN' });
    expect(await findUserAccounts(L.db, p)).toMatchObject({ available: 9 });
    await L.db.transaction().execute(async (tx) => {
      await sql`alter table transfers disable trigger transfers_immutable`.execute(tx);
      await sql`update transfers set kind = 'grant_purchase' where id = ${Number(id)}`.execute(tx);
      await sql`alter table transfers enable trigger transfers_immutable`.execute(tx);
    });
    await L.run((tx) => purgeUser(tx, p));
    expect(await findUserAccounts(L.db, p)).toBeUndefined();
    expect(await verify(L.db, secret())).toMatchObject({ ok: true });
  });

  it('loses nothing of other people when it races their postings, its own capture and the sealer', async () => {
    const p = user();
    await grant(p, 50);
    const open = randomUUID();
    await reserve(p, open, 7);
    for (let i = 0; i < 3; i++) await reserve(p, randomUUID(), 1);
    await sealEverything();
    const people = Array.from({ length: 6 }, () => user());
    for (const o of people) await grant(o, 50);
    const accounts = await Promise.all(people.map(async (o) => (await findUserAccounts(L.db, o))!));
    const rounds = 5;
    let stop = false;
    const sealer = (async () => {
      while (!stop) {
        await sealAll(L.db, secret());
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const work = people.map(async (o) => {
      for (let i = 0; i < rounds; i++) {
        const h = randomUUID();
        expect(await reserve(o, h, 3)).toEqual({ status: 'placed' });
        expect(await capture(h)).toMatchObject({ status: 'captured', captured: 3 });
        await grant(o, 1, 'promo');
      }
    });
    const purge = (async () => {
      await new Promise((r) => setTimeout(r, 20));
      return L.run((tx) => purgeUser(tx, p));
    })();
    const own = capture(open);
    await Promise.all([...work, purge, own]);
    stop = true;
    await sealer;

    expect(await findUserAccounts(L.db, p)).toBeUndefined();
    for (const [i, o] of people.entries()) {
      expect(await findUserAccounts(L.db, o)).toMatchObject({ available: 50 - 3 * rounds + rounds, held: 0 });
      const n = await sql<{ n: string }>`select count(*) as n from transfers where subject_id = ${accounts[i]!.availableId}`.execute(L.db);
      expect(Number(n.rows[0]!.n)).toBe(1 + 3 * rounds);
    }
    expect(await invariantViolations(L.db)).toEqual([]);
    await sealEverything();
    expect(await verify(L.db, secret())).toMatchObject({ ok: true, unsealedTransfers: 0 });
    const tb = await finance.trialBalance(L.db, null);
    expect(tb.totals.balance).toBe(0);
    expect(tb.storedBalancesMatch).toBe(true);
  });

  it('erases the accounts earlier purges only re-keyed, with the same guarantees', async () => {
    const p = user();
    await grant(p, 30);
    const h = randomUUID();
    await reserve(p, h, 8);
    await capture(h, 5);
    await sealEverything();
    const acc = (await findUserAccounts(L.db, p))!;
    // What the purge did before erasure existed: a random owner, the rows kept.
    await sql`update accounts set owner_id = ${randomUUID()}, anonymized_at = now() where owner_id = ${p}`.execute(L.db);
    const before = await financeView();

    expect(await eraseAnonymizedAccounts(L.db)).toBe(1);
    expect(await eraseAnonymizedAccounts(L.db)).toBe(0);

    const ids = [acc.availableId, acc.heldId];
    expect(await rowsNaming(ids)).toEqual([]);
    const after = await financeView();
    expect(after.systemNow).toEqual(before.systemNow);
    expect(after.statements).toEqual(before.statements);
    expect(after.peopleAndErased).toBe(before.peopleAndErased);
    expect(await invariantViolations(L.db)).toEqual([]);
    expect(await verify(L.db, secret())).toMatchObject({ ok: true });
    await sealEverything();
    expect(await verify(L.db, secret())).toMatchObject({ ok: true, unsealedTransfers: 0 });
  });
});
