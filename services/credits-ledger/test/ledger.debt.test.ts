// A refund or dispute that finds the person's credits held for generations: the clawback takes what
// is available and records the rest as debt; the held credits, once their hold gives them back,
// pay that debt first. Otherwise the credits whose money went back would be spendable again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@imlab/db';
import * as ledger from '../src/ledger/ledger.service.js';
import { findUserAccounts, outstandingDebt } from '../src/ledger/ledger.repository.js';
import { sweepExpiredHolds } from '../src/background.js';
import { inMinutes, invariantViolations, recognisedAll, startLedger, user, type TestLedger } from './support/ledger.js';

let L: TestLedger;

beforeAll(async () => {
  L = await startLedger('ledger-debt');
});
afterAll(async () => {
  await L?.close();
});

/** A person who bought `credits` (order `order`) and reserved all of them for one generation. */
async function allHeld(credits: number, expiresAt = inMinutes(30)) {
  const u = user();
  const order = `order:${u}`;
  await L.run((tx) => ledger.grant(tx, L.deps, { idempotencyKey: `${order}:grant`, userId: u, amount: credits, source: 'purchase', reference: order, value: { amount: credits * 10, currency: 'EUR' } }));
  const holdId = crypto.randomUUID();
  expect(await L.run((tx) => ledger.reserve(tx, L.deps, { holdId, userId: u, amount: credits, expiresAt, reference: `generation:${holdId}` }))).toMatchObject({ status: 'placed' });
  return { u, order, holdId };
}

async function state(u: string) {
  const acc = (await findUserAccounts(L.db, u))!;
  return { available: acc.available, held: acc.held, owed: await outstandingDebt(L.db, acc.availableId) };
}

const refund = (u: string, order: string, amount: number, n = 1) =>
  L.run((tx) => ledger.clawback(tx, L.deps, { idempotencyKey: `${order}:refund:${n}`, userId: u, amount, reference: order }));

describe('a clawback while the credits are held', () => {
  it('records what it cannot take as debt; the released hold pays it, and nothing is spendable again', async () => {
    const { u, order, holdId } = await allHeld(100);
    expect(await refund(u, order, 100)).toEqual({ amount: 0, debt: 100 });
    expect(await state(u)).toEqual({ available: 0, held: 100, owed: 100 });
    expect(await L.run((tx) => ledger.release(tx, L.deps, { holdId, reason: 'canceled' }))).toEqual({ status: 'released', returned: 100 });
    expect(await state(u)).toEqual({ available: 0, held: 0, owed: 0 });
    // the person's history shows the credits coming back and going again, under the order
    const rows = await L.db.selectFrom('transfers').select(['kind', 'amount', 'reference']).where('hold_id', 'is', null).where('kind', '=', 'debt_repay').where('reference', '=', order).execute();
    expect(rows).toEqual([{ kind: 'debt_repay', amount: 100, reference: order }]);
    expect(await invariantViolations(L.db)).toEqual([]);
  });

  it('a partial refund: the hold gives back what is left after the debt', async () => {
    const { u, order, holdId } = await allHeld(100);
    expect(await refund(u, order, 30)).toEqual({ amount: 0, debt: 30 });
    await L.run((tx) => ledger.release(tx, L.deps, { holdId, reason: 'GENERATION_RENDER_ERROR' }));
    expect(await state(u)).toEqual({ available: 70, held: 0, owed: 0 });
  });

  it('the unrendered part of a capture pays the debt; what was rendered is spent', async () => {
    const { u, order, holdId } = await allHeld(100);
    await refund(u, order, 100);
    expect(await L.run((tx) => ledger.capture(tx, L.deps, { holdId, amount: 40 }, new Date()))).toEqual({ status: 'captured', captured: 40, returned: 60 });
    // 60 came back and paid 60 of the 100 owed; 40 were spent before the refund could reach them
    expect(await state(u)).toEqual({ available: 0, held: 0, owed: 40 });
    expect(await invariantViolations(L.db)).toEqual([]);
  });

  it('an expired hold pays it too, and a dispute won afterwards gives the credits back once', async () => {
    const { u, order } = await allHeld(50, inMinutes(-1));
    expect(await L.run((tx) => ledger.clawback(tx, L.deps, { idempotencyKey: `${order}:dispute:1`, userId: u, amount: 50, reference: order }))).toEqual({ amount: 0, debt: 50 });
    await sweepExpiredHolds(L.db, L.deps);
    expect(await state(u)).toEqual({ available: 0, held: 0, owed: 0 });
    // nothing is owed any more: the restore gives all of it back, once
    const restore = () => L.run((tx) => ledger.restore(tx, L.deps, { idempotencyKey: `${order}:dispute:1:restore`, userId: u, amount: 50, reference: order }));
    expect(await restore()).toEqual({ amount: 50, debt: 0 });
    expect(await restore()).toEqual({ amount: 50, debt: 0 });
    expect(await state(u)).toEqual({ available: 50, held: 0, owed: 0 });
    expect(await invariantViolations(L.db)).toEqual([]);
  });

  it('the revenue subledger takes the repaid credits from the order as refunded (a refund) or clawed back (a dispute)', async () => {
    const a = await allHeld(20);
    await refund(a.u, a.order, 20);
    await L.run((tx) => ledger.release(tx, L.deps, { holdId: a.holdId, reason: 'canceled' }));
    const b = await allHeld(10);
    await L.run((tx) => ledger.clawback(tx, L.deps, { idempotencyKey: `${b.order}:dispute:1`, userId: b.u, amount: 10, reference: b.order }));
    await L.run((tx) => ledger.release(tx, L.deps, { holdId: b.holdId, reason: 'canceled' }));
    await recognisedAll(L.db);
    const { rows } = await sql<{ reference: string; kind: string; credits: string; amount: string }>`
      select m.reference, m.kind, sum(m.credits)::text as credits, sum(m.amount)::text as amount
        from revenue_movements m where m.reference in (${a.order}, ${b.order}) and m.kind in ('refunded', 'clawed_back') group by 1, 2 order by 2`.execute(L.db);
    expect(rows).toEqual([
      { reference: b.order, kind: 'clawed_back', credits: '10', amount: '100' },
      { reference: a.order, kind: 'refunded', credits: '20', amount: '200' },
    ]);
  });
});
