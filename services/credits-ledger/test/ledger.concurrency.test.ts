import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@imlab/db';
import * as ledger from '../src/ledger/ledger.service.js';
import { findUserAccounts } from '../src/ledger/ledger.repository.js';
import { sweepExpiredHolds } from '../src/background.js';
import { inMinutes, invariantViolations, startLedger, user, type TestLedger } from './support/ledger.js';

let L: TestLedger;
beforeAll(async () => {
  // Enough connections that the reserves really contend on the same account row.
  L = await startLedger('ledger-concurrency', { poolSize: 16 });
});
afterAll(async () => {
  await L?.close();
});

const grant = (userId: string, amount: number) =>
  L.run((tx) => ledger.grant(tx, L.deps, { idempotencyKey: randomUUID(), userId, amount, source: 'purchase', reference: 'order' }));

describe('concurrent reserves against one balance', () => {
  it('lets exactly 50 of 200 concurrent reserves through when the balance covers 50', async () => {
    const u = user();
    await grant(u, 50 * 4);
    const results = await Promise.all(
      Array.from({ length: 200 }, () =>
        L.run((tx) => ledger.reserve(tx, L.deps, { holdId: randomUUID(), userId: u, amount: 4, expiresAt: inMinutes(10), reference: 'gen' })),
      ),
    );
    const placed = results.filter((r) => r.status === 'placed');
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(placed).toHaveLength(50);
    expect(rejected).toHaveLength(150);
    for (const r of rejected) expect(r).toEqual({ status: 'rejected', code: 'LEDGER_INSUFFICIENT_CREDITS', shortfall: 4 });
    expect(await findUserAccounts(L.db, u)).toMatchObject({ available: 0, held: 200 });
    expect(await invariantViolations(L.db)).toEqual([]);
  });

  it('converges 50 concurrent deliveries of one grant to a single posting', async () => {
    const u = user();
    const cmd = { idempotencyKey: randomUUID(), userId: u, amount: 7, source: 'purchase' as const, reference: 'order' };
    const results = await Promise.all(Array.from({ length: 50 }, () => L.run((tx) => ledger.grant(tx, L.deps, cmd))));
    for (const r of results) expect(r).toEqual({ amount: 7, debt: 0 });
    expect(await findUserAccounts(L.db, u)).toMatchObject({ available: 7 });
  });
});

describe('capture racing expiry', () => {
  it('resolves every hold exactly once when captures and sweepers run at the moment of expiry', async () => {
    const u = user();
    const n = 40;
    await grant(u, n * 5);
    // Expiries spread over 800 ms; the captures all start in the middle of that window while three
    // sweepers run through it, so the holds near the boundary are fought over by both sides.
    const holds = Array.from({ length: n }, () => randomUUID());
    for (const holdId of holds) {
      expect(await L.run((tx) => ledger.reserve(tx, L.deps, { holdId, userId: u, amount: 5, expiresAt: inMinutes(5), reference: 'gen' }))).toEqual({ status: 'placed' });
    }
    // The expiries are set once every hold is placed (however slowly that went), in one statement.
    const t0 = Date.now() + 500;
    await sql`update holds h set expires_at = ${new Date(t0)}::timestamptz + (o.i - 1) * interval '20 milliseconds'
      from unnest(${holds}::uuid[]) with ordinality as o(id, i) where h.id = o.id`.execute(L.db);
    const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));
    const [captures] = await Promise.all([
      sleepUntil(t0 + 400).then(() => Promise.all(holds.map((holdId) => L.run((tx) => ledger.capture(tx, L.deps, { holdId }))))),
      ...Array.from({ length: 3 }, async () => {
        await sleepUntil(t0);
        while (Date.now() < t0 + 1000) {
          await sweepExpiredHolds(L.db, L.deps);
          await new Promise((r) => setTimeout(r, 5));
        }
      }),
    ]);
    await sweepExpiredHolds(L.db, L.deps);
    const statuses = await L.db.selectFrom('holds').select(['id', 'status']).where('id', 'in', holds).execute();
    expect(statuses.every((h) => h.status === 'captured' || h.status === 'expired')).toBe(true);
    const captured = statuses.filter((h) => h.status === 'captured').length;
    // The race really happened: some captures won, some found the hold expired.
    expect(captured).toBeGreaterThan(0);
    expect(captured).toBeLessThan(n);
    // Every capture answered for its own hold: either it captured it, or it found it expired.
    expect(captures.filter((c) => (c as { status: string }).status === 'captured')).toHaveLength(captured);
    const resolutions = await L.db.selectFrom('transfers').select(['hold_id', 'kind']).where('hold_id', 'in', holds).where('kind', 'in', ['capture', 'expire', 'release']).execute();
    expect(resolutions).toHaveLength(n);
    expect(new Set(resolutions.map((r) => r.hold_id)).size).toBe(n);
    expect(await findUserAccounts(L.db, u)).toMatchObject({ held: 0, available: (n - captured) * 5 });
    expect(await invariantViolations(L.db)).toEqual([]);
  });

  it('captures a hold whose expiry has passed when the capture was issued before it (delivered late), and the sweeper waits out its grace', async () => {
    const u = user();
    await grant(u, 20);
    const [late, stale] = [randomUUID(), randomUUID()];
    for (const holdId of [late, stale]) {
      await L.run((tx) => ledger.reserve(tx, L.deps, { holdId, userId: u, amount: 10, expiresAt: inMinutes(5), reference: 'gen' }));
    }
    // Both expired 10 s ago; a sweeper with a minute of grace leaves them open.
    await sql`update holds set expires_at = now() - interval '10 seconds' where id in (${late}, ${stale})`.execute(L.db);
    expect(await sweepExpiredHolds(L.db, L.deps, 60)).toBe(0);
    expect(await L.db.selectFrom('holds').select('status').where('id', 'in', [late, stale]).execute()).toEqual([{ status: 'open' }, { status: 'open' }]);

    // Generation committed this capture 20 s before it arrives: before the expiry, so it is charged.
    const issued = new Date(Date.now() - 20_000);
    expect(await L.run((tx) => ledger.capture(tx, L.deps, { holdId: late, amount: 6 }, issued))).toEqual({ status: 'captured', captured: 6, returned: 4 });
    // One issued after the expiry releases the hold instead.
    expect(await L.run((tx) => ledger.capture(tx, L.deps, { holdId: stale }, new Date()))).toEqual({ status: 'expired', returned: 10 });
    expect(await findUserAccounts(L.db, u)).toMatchObject({ held: 0, available: 14 });

    // Without grace the sweeper takes what is left at once.
    const third = randomUUID();
    await L.run((tx) => ledger.reserve(tx, L.deps, { holdId: third, userId: u, amount: 4, expiresAt: inMinutes(5), reference: 'gen' }));
    await sql`update holds set expires_at = now() - interval '10 seconds' where id = ${third}`.execute(L.db);
    expect(await sweepExpiredHolds(L.db, L.deps, 60)).toBe(0);
    await sql`update holds set expires_at = now() - interval '61 seconds' where id = ${third}`.execute(L.db);
    expect(await sweepExpiredHolds(L.db, L.deps, 60)).toBeGreaterThanOrEqual(1);
    expect(await L.db.selectFrom('holds').select('status').where('id', '=', third).executeTakeFirst()).toEqual({ status: 'expired' });
    expect(await invariantViolations(L.db)).toEqual([]);
  });

  it('refuses to capture a hold whose expiry has passed, even before the sweeper ran', async () => {
    const u = user();
    await grant(u, 10);
    const holdId = randomUUID();
    await L.run((tx) => ledger.reserve(tx, L.deps, { holdId, userId: u, amount: 6, expiresAt: new Date(Date.now() + 50).toISOString(), reference: 'gen' }));
    await new Promise((r) => setTimeout(r, 80));
    expect(await L.run((tx) => ledger.capture(tx, L.deps, { holdId }))).toEqual({ status: 'expired', returned: 6 });
    expect(await L.run((tx) => ledger.capture(tx, L.deps, { holdId }))).toEqual({ status: 'noop', hold: 'expired' });
    expect(await findUserAccounts(L.db, u)).toMatchObject({ available: 10, held: 0 });
  });
});
