import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@imlab/db';
import { eventually } from '@imlab/testing';
import * as ledger from '../src/ledger/ledger.service.js';
import { findUserAccounts } from '../src/ledger/ledger.repository.js';
import { purgeUser } from '../src/privacy/privacy.service.js';
import { sealOnce, verify } from '../src/audit/audit.service.js';
import { invariantViolations, startLedger, user, type TestLedger } from './support/ledger.js';

// The hash chain runs in transaction-id order (xid8, then id). PostgreSQL's transaction counter
// grows without end, so a ledger's transfers span ids of different lengths whenever the counter
// passes a power of ten (9,999 → 10,000 happened during a full test run here). As text, '10' sorts
// before '9': a query that orders by the id's text instead of the id seals the chain in another
// order than verify walks it, and a sound ledger then reports tampering.
let L: TestLedger;
beforeAll(async () => {
  L = await startLedger('ledger-chain-order');
});
afterAll(async () => {
  await L?.close();
});

/** Seals one transfer per checkpoint until every transfer is sealed (the cluster's xmin can lag a moment). */
const sealOneByOne = () =>
  eventually(async () => {
    while ((await sealOnce(L.db, L.config.LEDGER_SEAL_SECRET, 1)) > 0);
    return (await verify(L.db, L.config.LEDGER_SEAL_SECRET)).unsealedTransfers === 0;
  });

describe('the hash chain across transaction ids of different lengths', () => {
  it('seals, verifies and erases in numeric order when earlier transfers have shorter ids than later ones', async () => {
    const u = user();
    const key = `order:${randomUUID()}`;
    await L.run((tx) => ledger.grant(tx, L.deps, { idempotencyKey: key, userId: u, amount: 30, source: 'purchase', reference: key }));
    const { availableId, heldId } = (await findUserAccounts(L.db, u))!;
    // Two transfers as transactions with one- and two-digit ids would have written them (written
    // directly: no test can move the server's counter back). There and back, so every balance stays.
    await sql`
      insert into transfers (xid, debit_account_id, credit_account_id, amount, kind)
      values ('9'::xid8, ${availableId}, ${heldId}, 1, 'reserve'), ('10'::xid8, ${heldId}, ${availableId}, 1, 'release')`.execute(L.db);
    const all = Number((await sql<{ n: string }>`select count(*) as n from transfers`.execute(L.db)).rows[0]!.n);
    expect(all).toBe(3);

    await sealOneByOne();
    const report = await verify(L.db, L.config.LEDGER_SEAL_SECRET);
    expect(report).toMatchObject({ ok: true, firstMismatch: null, unsealedTransfers: 0, sealedTransfers: all, checkpoints: all });
    // one checkpoint per transfer, in numeric transaction-id order: 9, then 10, then the rest
    const ends = (await sql<{ x: string }>`select last_xid::text as x from checkpoints order by id`.execute(L.db)).rows.map((r) => BigInt(r.x));
    expect(ends.slice(0, 2)).toEqual([9n, 10n]);
    expect(ends).toEqual([...ends].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));

    // The purge keeps each erased transfer's chain hashes, found by the checkpoint that seals it:
    // the one ending at 9 for the first, not the one whose id sorts after '9' as text.
    await L.run((tx) => purgeUser(tx, u));
    const kept = await sql<{ xid: string; prev_hash: string; hash: string }>`
      select xid::text as xid, prev_hash, hash from erased_transfer_hashes e order by e.xid, e.transfer_id`.execute(L.db);
    expect(kept.rows.map((r) => r.xid).slice(0, 2)).toEqual(['9', '10']);
    const cps = (await sql<{ prev_hash: string; hash: string }>`select prev_hash, hash from checkpoints order by id`.execute(L.db)).rows;
    expect(kept.rows.slice(0, 2).map((r) => [r.prev_hash, r.hash])).toEqual(cps.slice(0, 2).map((c) => [c.prev_hash, c.hash]));
    expect(await verify(L.db, L.config.LEDGER_SEAL_SECRET)).toMatchObject({ ok: true, firstMismatch: null });
    expect(await invariantViolations(L.db)).toEqual([]);
  });
});
