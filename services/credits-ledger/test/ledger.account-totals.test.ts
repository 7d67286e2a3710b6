import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type Kysely } from '@imlab/db';
import { createLogger } from '@imlab/logger';
import { Registry } from 'prom-client';
import * as ledger from '../src/ledger/ledger.service.js';
import * as finance from '../src/finance/finance.service.js';
import { purgeUser } from '../src/privacy/privacy.service.js';
import { ledgerVerifier } from '../src/background.js';
import { foldAccountTotals, verifyAccountTotals } from '../src/finance/account-totals.js';
import type { DB } from '../src/db.js';
import { inMinutes, invariantViolations, startLedger, user, type TestLedger } from './support/ledger.js';
import * as migration from '../migrations/0010-account-totals.js';

// Account totals (migration 0010, finance/account-totals.ts): the trial balance reads the number
// of accounts and their stored balances per type from rows a trigger keeps, not from a scan of
// every account. `invariantViolations` compares them with a scan after every test of the ledger.

let L: TestLedger;
beforeAll(async () => {
  L = await startLedger('ledger-account-totals', { poolSize: 8 });
});
afterAll(async () => {
  await L?.close();
});

const grant = (userId: string, amount: number) =>
  L.run((tx) => ledger.grant(tx, L.deps, { idempotencyKey: randomUUID(), userId, amount, source: 'purchase', reference: 'order' }));
/** A purchase and a generation: one capture of part of the hold. */
async function activity(userId: string): Promise<void> {
  await grant(userId, 30);
  const holdId = randomUUID();
  await L.run((tx) => ledger.reserve(tx, L.deps, { holdId, userId, amount: 8, expiresAt: inMinutes(10), reference: `generation:${holdId}` }));
  await L.run((tx) => ledger.capture(tx, L.deps, { holdId, amount: 5 }, new Date()));
}
const scanned = async (db: Kysely<DB>) =>
  (await sql<{ type: string; n: number; b: number }>`select type, count(*)::int8 as n, sum(balance)::int8 as b from accounts group by type order by type`.execute(db)).rows;
const slots = async () => (await sql<{ slot: number }>`select distinct slot from account_totals order by slot`.execute(L.db)).rows.map((r) => r.slot);
const series = async (registry: Registry, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await registry.metrics())?.[1]);

describe('account totals', () => {
  it('count the accounts of the trial balance and sum their stored balances as postings and purges change them', async () => {
    const people = [user(), user(), user()];
    for (const p of people) await activity(p);
    await L.run((tx) => purgeUser(tx, people[0]!));
    expect(await invariantViolations(L.db)).toEqual([]);

    const tb = await finance.trialBalance(L.db, null);
    const rows = await scanned(L.db);
    for (const r of rows) {
      const line = tb.lines.find((l) => l.type === r.type);
      expect(line?.accounts, r.type).toBe(r.n);
    }
    expect(tb.storedBalancesMatch).toBe(true);
  });

  it('leave the trial balance able to see a stored balance that parts from its transfers', async () => {
    const p = user();
    await activity(p);
    const bump = (by: number) => sql`update accounts set balance = balance + ${by} where owner_id = ${p} and type = 'available'`.execute(L.db);
    await bump(1);
    try {
      expect((await finance.trialBalance(L.db, null)).storedBalancesMatch).toBe(false);
      expect(await invariantViolations(L.db)).toContainEqual(expect.stringMatching(/stores 26 but its transfers say 25/));
    } finally {
      await bump(-1);
    }
    expect((await finance.trialBalance(L.db, null)).storedBalancesMatch).toBe(true);
  });

  it('are folded into one row per type while postings run, losing nothing and never waiting for a writer', async () => {
    const people = Array.from({ length: 12 }, () => user());
    let running = true;
    const folds: number[] = [];
    const folding = (async () => {
      while (running) folds.push(await foldAccountTotals(L.db));
    })();
    try {
      await Promise.all(people.map(async (p) => {
        for (let i = 0; i < 4; i++) await activity(p);
      }));
    } finally {
      running = false;
      await folding;
    }
    expect(folds.some((n) => n > 0)).toBe(true);
    expect(await invariantViolations(L.db)).toEqual([]);

    // A transaction that has written its session's row and is still open: the fold passes it by
    // at once (it does not wait for the commit), and what that transaction adds still counts.
    let commit!: () => void;
    const gate = new Promise<void>((resolve) => (commit = resolve));
    let written!: () => void;
    const wrote = new Promise<void>((resolve) => (written = resolve));
    const p = user();
    const open = L.run(async (tx) => {
      await ledger.grant(tx, L.deps, { idempotencyKey: randomUUID(), userId: p, amount: 11, source: 'purchase', reference: 'order' });
      written();
      await gate;
    });
    await wrote;
    const fold = foldAccountTotals(L.db).then(() => 'folded');
    const outcome = await Promise.race([fold, new Promise((resolve) => setTimeout(resolve, 10_000, 'waited for the writer'))]);
    commit();
    await open;
    await fold;
    expect(outcome).toBe('folded');
    await foldAccountTotals(L.db);
    expect(await slots()).toEqual([0]);
    expect(await invariantViolations(L.db)).toEqual([]);
  });

  it('are compared with a scan of the accounts by the verifier, which sees accounts written with triggers off', async () => {
    const registry = new Registry();
    const run = ledgerVerifier(L.db, L.config.LEDGER_SEAL_SECRET, registry, createLogger({ service: 'test', level: 'silent' }));
    await run();
    expect(await series(registry, 'imlab_ledger_account_totals_ok')).toBe(1);

    const p = user();
    await activity(p);
    // As a replica would apply rows: no trigger fires, so the totals do not see these changes.
    const bypass = (statement: ReturnType<typeof sql>) =>
      L.run(async (tx) => {
        await sql`set local session_replication_role = replica`.execute(tx);
        await statement.execute(tx);
      });
    await bypass(sql`update accounts set balance = balance + 4 where owner_id = ${p} and type = 'available'`);
    try {
      const mismatches = await verifyAccountTotals(L.db);
      expect(mismatches).toEqual([expect.objectContaining({ type: 'available' })]);
      expect(mismatches[0]!.found.balance - mismatches[0]!.kept.balance).toBe(4);
      await run();
      expect(await series(registry, 'imlab_ledger_account_totals_ok')).toBe(0);
    } finally {
      await bypass(sql`update accounts set balance = balance - 4 where owner_id = ${p} and type = 'available'`);
    }
    await run();
    expect(await series(registry, 'imlab_ledger_account_totals_ok')).toBe(1);

    // A transfer written behind the triggers' back: its debit and credit are missing from the totals
    // (checked inside the transaction that wrote it, which is then rolled back: transfers stay).
    const rollback = new Error('rollback');
    await L.db
      .transaction()
      .execute(async (tx) => {
        const { rows } = await sql<{ id: number }>`
          select id from transfers where kind = 'capture' and debit_account_id = (select id from accounts where owner_id = ${p} and type = 'held')`.execute(tx);
        await sql`set local session_replication_role = replica`.execute(tx);
        await sql`insert into transfers (debit_account_id, credit_account_id, amount, kind) select debit_account_id, credit_account_id, 2, kind from transfers where id = ${rows[0]!.id}`.execute(tx);
        await sql`set local session_replication_role = origin`.execute(tx);
        const mismatches = await verifyAccountTotals(tx);
        expect(mismatches.map((m) => [m.type, m.found.debits - m.kept.debits, m.found.credits - m.kept.credits])).toEqual([
          ['consumed', 0, 2],
          ['held', 2, 0],
        ]);
        throw rollback;
      })
      .catch((err: unknown) => {
        if (err !== rollback) throw err;
      });
    expect(await verifyAccountTotals(L.db)).toEqual([]);
  });

  it('start, on a ledger that already has accounts, from the accounts there', async () => {
    const p = user();
    await activity(p);
    const before = await scanned(L.db);
    const bump = (tx: Kysely<DB>, by: number) => sql`update accounts set balance = balance + ${by} where owner_id = ${p} and type = 'available'`.execute(tx);
    await L.db.transaction().execute(async (tx) => {
      await migration.down(tx as unknown as Kysely<unknown>);
      // Written while no trigger kept totals: the migration must take them from the accounts.
      await bump(tx, 2);
      await migration.up(tx as unknown as Kysely<unknown>);
      expect(await verifyAccountTotals(tx)).toEqual([]);
      await bump(tx, -2);
    });
    expect(await verifyAccountTotals(L.db)).toEqual([]);
    expect(await scanned(L.db)).toEqual(before);
    expect(await invariantViolations(L.db)).toEqual([]);
  });
});
