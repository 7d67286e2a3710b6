import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrlFor } from '@imlab/config';
import { createDb, type Kysely } from '@imlab/db';
import { createTestDatabase, eventually } from '@imlab/testing';
import type { DB } from '../src/db.js';
import * as ledger from '../src/ledger/ledger.service.js';
import { sealAll, verify } from '../src/audit/audit.service.js';
import { trialBalance } from '../src/finance/finance.service.js';
import { inMinutes, invariantViolations, startLedger, user, type TestLedger } from './support/ledger.js';

// The restore drill of docs/operations.md ("Restore from backup"), with a logical backup: the
// ledger's database dumped with pg_dump and restored into a new database verifies, balances and
// keeps every transfer — what finance checks before the services are pointed at a restore.
let L: TestLedger;
const restored: { drop(): Promise<void> }[] = [];
beforeAll(async () => {
  L = await startLedger('ledger-restore');
});
afterAll(async () => {
  await L?.close();
  for (const r of restored) await r.drop();
});

describe('restoring the ledger from a backup', () => {
  it('gives back a ledger whose checkpoints verify, whose books balance and that holds every transfer', async () => {
    const alice = user();
    const bob = user();
    for (const [who, amount] of [[alice, 40], [bob, 25]] as const) {
      const key = `order:${randomUUID()}`;
      await L.run((tx) => ledger.grant(tx, L.deps, { idempotencyKey: key, userId: who, amount, source: 'purchase', reference: key }));
    }
    const holdId = randomUUID();
    await L.run((tx) => ledger.reserve(tx, L.deps, { holdId, userId: alice, amount: 10, expiresAt: inMinutes(10), reference: `generation:${holdId}` }));
    await L.run((tx) => ledger.capture(tx, L.deps, { holdId }, new Date()));
    // Sealing takes only transfers below every open transaction's snapshot: seal until all are in a checkpoint.
    await eventually(async () => {
      await sealAll(L.db, L.config.LEDGER_SEAL_SECRET);
      return (await verify(L.db, L.config.LEDGER_SEAL_SECRET)).unsealedTransfers === 0;
    });

    const source = databaseUrlFor(L.config.DATABASE_URL, L.config.DATABASE_NAME);
    const target = await createTestDatabase('ledger-restored');
    restored.push(target);
    const dump = spawnSync('pg_dump', ['--format=custom', '--no-owner', `--dbname=${source}`], { maxBuffer: 64 * 1024 * 1024 });
    expect(dump.status, dump.stderr?.toString()).toBe(0);
    const restore = spawnSync('pg_restore', ['--no-owner', '--exit-on-error', `--dbname=${target.url}`], { input: dump.stdout, maxBuffer: 64 * 1024 * 1024 });
    expect(restore.status, restore.stderr?.toString()).toBe(0);

    const copy: Kysely<DB> = createDb<DB>(target.url, { max: 2 });
    try {
      expect(await verify(copy, L.config.LEDGER_SEAL_SECRET)).toMatchObject({ ok: true, firstMismatch: null });
      expect(await invariantViolations(copy)).toEqual([]);
      const lines = async (db: Kysely<DB>) => (await trialBalance(db, null)).lines;
      expect(await lines(copy)).toEqual(await lines(L.db));
      const count = async (db: Kysely<DB>) => Number((await db.selectFrom('transfers').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
      expect(await count(copy)).toBe(await count(L.db));
      // and a copy whose seal secret is not the one it was sealed with says so (the wrong secret restored)
      expect((await verify(copy, 'not-the-seal-secret-0123456789')).ok).toBe(false);
    } finally {
      await copy.destroy();
    }
  });
});
