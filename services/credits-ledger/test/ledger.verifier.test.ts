import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createLogger } from '@imlab/logger';
import { eventually } from '@imlab/testing';
import * as ledger from '../src/ledger/ledger.service.js';
import { sealAll, verify } from '../src/audit/audit.service.js';
import { ledgerVerifier } from '../src/background.js';
import { startLedger, user, type TestLedger } from './support/ledger.js';

// The background verifier is what the LedgerVerificationFailed alert reads (k8s/monitoring).
let L: TestLedger;
beforeAll(async () => {
  L = await startLedger('ledger-verifier');
});
afterAll(async () => {
  await L?.close();
});

const series = async (registry: Registry, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await registry.metrics())?.[1]);

describe('the background ledger verifier', () => {
  it('reports 1 while the checkpoints verify and 0 once one was sealed with another secret', async () => {
    const key = `order:${randomUUID()}`;
    await L.run((tx) => ledger.grant(tx, L.deps, { idempotencyKey: key, userId: user(), amount: 5, source: 'purchase', reference: key }));
    // Sealing takes only transfers below every open transaction's snapshot: seal until all are in a checkpoint.
    await eventually(async () => {
      await sealAll(L.db, L.config.LEDGER_SEAL_SECRET);
      return (await verify(L.db, L.config.LEDGER_SEAL_SECRET)).unsealedTransfers === 0;
    });
    const registry = new Registry();
    const before = Date.now() / 1000;
    const run = ledgerVerifier(L.db, L.config.LEDGER_SEAL_SECRET, registry, createLogger({ service: 'test', level: 'silent' }));
    await run();
    expect(await series(registry, 'imlab_ledger_verification_ok')).toBe(1);
    expect(await series(registry, 'imlab_ledger_verification_last_run_timestamp_seconds')).toBeGreaterThanOrEqual(Math.floor(before));

    // The same checkpoints checked with another key: every seal is a mismatch.
    const other = new Registry();
    await ledgerVerifier(L.db, 'another-seal-secret', other, createLogger({ service: 'test', level: 'silent' }))();
    expect(await series(other, 'imlab_ledger_verification_ok')).toBe(0);
  });
});
