import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AppError } from '@imlab/http';
import * as ledger from '../src/ledger/ledger.service.js';
import { findUserAccounts, outstandingDebt } from '../src/ledger/ledger.repository.js';
import { sweepExpiredHolds } from '../src/background.js';
import { invariantViolations, startLedger, type TestLedger } from './support/ledger.js';

let L: TestLedger;
beforeAll(async () => {
  L = await startLedger('ledger-model', { poolSize: 8 });
});
afterAll(async () => {
  await L?.close();
});

// ── the model: what the ledger should answer, computed with plain numbers ────────────────────────

interface ModelHold {
  user: number;
  amount: number;
  status: 'open' | 'captured' | 'released' | 'expired' | 'rejected' | 'void';
  expired: boolean;
  shortfall: number;
}
interface Model {
  available: number[];
  held: number[];
  owed: number[];
  holds: Map<number, ModelHold>;
  keys: Map<number, string>;
}

interface World {
  users: string[];
  holdIds: string[];
  keyOf: (k: number) => string;
}

type Op =
  | { t: 'grant'; user: number; amount: number; promo: boolean; key: number }
  | { t: 'reserve'; user: number; amount: number; hold: number; expired: boolean }
  | { t: 'capture'; hold: number; amount?: number }
  | { t: 'release'; hold: number }
  | { t: 'clawback'; user: number; amount: number; key: number }
  | { t: 'restore'; user: number; amount: number; key: number }
  | { t: 'sweep' };

const userIdx = fc.integer({ min: 0, max: 2 });
const amount = fc.integer({ min: 1, max: 40 });
const holdIdx = fc.integer({ min: 0, max: 7 });
const keyIdx = fc.integer({ min: 0, max: 5 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant('grant' as const), user: userIdx, amount, promo: fc.boolean(), key: keyIdx }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('reserve' as const), user: userIdx, amount, hold: holdIdx, expired: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('capture' as const), hold: holdIdx, amount: fc.option(fc.integer({ min: 0, max: 45 }), { nil: undefined }) }, { requiredKeys: ['t', 'hold'] }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('release' as const), hold: holdIdx }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('clawback' as const), user: userIdx, amount, key: keyIdx }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restore' as const), user: userIdx, amount, key: keyIdx }) },
  { weight: 1, arbitrary: fc.constant({ t: 'sweep' as const }) },
);

/**
 * The same commands, tilted toward a refund or chargeback arriving while credits are held (one
 * person, large clawbacks, holds that go back): the sequence where returned holds must pay the
 * debt first, which the even mix above reaches too rarely.
 */
// Keys mostly fresh: a reused key is a duplicate or a conflict, which moves no credits.
const freshKey = fc.integer({ min: 0, max: 60 });
const debtOpArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ t: fc.constant('grant' as const), user: fc.constant(0), amount, promo: fc.boolean(), key: freshKey }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('reserve' as const), user: fc.constant(0), amount, hold: holdIdx, expired: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('clawback' as const), user: fc.constant(0), amount: fc.integer({ min: 1, max: 80 }), key: freshKey }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('release' as const), hold: holdIdx }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('capture' as const), hold: holdIdx, amount: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }) }, { requiredKeys: ['t', 'hold'] }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restore' as const), user: fc.constant(0), amount, key: freshKey }) },
  { weight: 1, arbitrary: fc.constant({ t: 'sweep' as const }) },
);

const newWorld = (): World => {
  const run = randomUUID();
  return { users: [randomUUID(), randomUUID(), randomUUID()], holdIds: Array.from({ length: 8 }, () => randomUUID()), keyOf: (k) => `${run}:k${k}` };
};

/** Executes one op against the real ledger; errors come back as `{ error: code }`. */
async function execute(w: World, op: Op): Promise<unknown> {
  try {
    switch (op.t) {
      case 'grant':
        return await L.run((tx) =>
          ledger.grant(tx, L.deps, { idempotencyKey: w.keyOf(op.key), userId: w.users[op.user]!, amount: op.amount, source: op.promo ? 'promo' : 'purchase', reference: 'order' }),
        );
      case 'reserve':
        return await L.run((tx) =>
          ledger.reserve(tx, L.deps, {
            holdId: w.holdIds[op.hold]!,
            userId: w.users[op.user]!,
            amount: op.amount,
            expiresAt: new Date(Date.now() + (op.expired ? -1000 : 3_600_000)).toISOString(),
            reference: `gen_${op.hold}`,
          }),
        );
      case 'capture':
        return await L.run((tx) => ledger.capture(tx, L.deps, { holdId: w.holdIds[op.hold]!, ...(op.amount === undefined ? {} : { amount: op.amount }) }));
      case 'release':
        return await L.run((tx) => ledger.release(tx, L.deps, { holdId: w.holdIds[op.hold]!, reason: 'failed' }));
      case 'clawback':
        return await L.run((tx) => ledger.clawback(tx, L.deps, { idempotencyKey: w.keyOf(op.key), userId: w.users[op.user]!, amount: op.amount, reference: 'refund' }));
      case 'restore':
        return await L.run((tx) => ledger.restore(tx, L.deps, { idempotencyKey: w.keyOf(op.key), userId: w.users[op.user]!, amount: op.amount, reference: 'dispute' }));
      case 'sweep':
        // The sweep is global (other runs' holds expire too); its effect is checked through balances.
        await sweepExpiredHolds(L.db, L.deps);
        return { swept: true };
    }
  } catch (err) {
    if (err instanceof AppError && !err.retryable) return { error: err.code };
    throw err;
  }
}

/** The same op applied to the model; returns what the ledger must answer. */
function expected(m: Model, op: Op): unknown {
  const keyed = (key: number, request: string, apply: () => unknown): unknown => {
    const seen = m.keys.get(key);
    if (seen !== undefined) return seen === request ? 'duplicate' : { error: 'LEDGER_IDEMPOTENCY_CONFLICT' };
    m.keys.set(key, request);
    return apply();
  };
  // Credits a hold gives back pay the person's debt from clawbacks first (they were held when the clawback came).
  const giveBack = (user: number, amount: number) => {
    const repaid = Math.min(m.owed[user]!, amount);
    m.owed[user]! -= repaid;
    m.available[user]! += amount - repaid;
  };
  const returnHold = (h: ModelHold, status: 'released' | 'expired') => {
    giveBack(h.user, h.amount);
    m.held[h.user]! -= h.amount;
    h.status = status;
    return h.amount;
  };
  switch (op.t) {
    case 'grant':
      return keyed(op.key, JSON.stringify(['grant', op.user, op.amount, op.promo]), () => {
        m.available[op.user]! += op.amount;
        return { amount: op.amount, debt: 0 };
      });
    case 'reserve': {
      const h = m.holds.get(op.hold);
      if (h) {
        if (h.status === 'void') return { status: 'rejected', code: 'LEDGER_HOLD_CLOSED', shortfall: 0 };
        if (h.user !== op.user || h.amount !== op.amount) return { error: 'LEDGER_IDEMPOTENCY_CONFLICT' };
        if (h.status === 'rejected') return { status: 'rejected', code: 'LEDGER_INSUFFICIENT_CREDITS', shortfall: h.shortfall };
        return { status: 'placed' };
      }
      if (m.available[op.user]! < op.amount) {
        const shortfall = op.amount - m.available[op.user]!;
        m.holds.set(op.hold, { user: op.user, amount: op.amount, status: 'rejected', expired: op.expired, shortfall });
        return { status: 'rejected', code: 'LEDGER_INSUFFICIENT_CREDITS', shortfall };
      }
      m.available[op.user]! -= op.amount;
      m.held[op.user]! += op.amount;
      m.holds.set(op.hold, { user: op.user, amount: op.amount, status: 'open', expired: op.expired, shortfall: 0 });
      return { status: 'placed' };
    }
    case 'capture': {
      const h = m.holds.get(op.hold);
      if (!h) {
        m.holds.set(op.hold, { user: -1, amount: 0, status: 'void', expired: false, shortfall: 0 });
        return { status: 'noop', hold: 'void' };
      }
      if (h.status !== 'open') return { status: 'noop', hold: h.status };
      if (h.expired) return { status: 'expired', returned: returnHold(h, 'expired') };
      const take = op.amount ?? h.amount;
      if (take > h.amount) return { error: 'LEDGER_CAPTURE_EXCEEDS_HOLD' };
      m.held[h.user]! -= h.amount;
      giveBack(h.user, h.amount - take);
      h.status = 'captured';
      return { status: 'captured', captured: take, returned: h.amount - take };
    }
    case 'release': {
      const h = m.holds.get(op.hold);
      if (!h) {
        m.holds.set(op.hold, { user: -1, amount: 0, status: 'void', expired: false, shortfall: 0 });
        return { status: 'noop', hold: 'void' };
      }
      if (h.status !== 'open') return { status: 'noop', hold: h.status };
      return { status: 'released', returned: returnHold(h, 'released') };
    }
    case 'clawback':
      return keyed(op.key, JSON.stringify(['clawback', op.user, op.amount]), () => {
        const take = Math.min(m.available[op.user]!, op.amount);
        m.available[op.user]! -= take;
        m.owed[op.user]! += op.amount - take;
        return { amount: take, debt: op.amount - take };
      });
    case 'restore':
      return keyed(op.key, JSON.stringify(['restore', op.user, op.amount]), () => {
        const repaid = Math.min(m.owed[op.user]!, op.amount);
        m.owed[op.user]! -= repaid;
        m.available[op.user]! += op.amount - repaid;
        return { amount: op.amount - repaid, debt: repaid };
      });
    case 'sweep': {
      for (const h of m.holds.values()) if (h.status === 'open' && h.expired) returnHold(h, 'expired');
      return { swept: true };
    }
  }
}

/** Random command sequences against the ledger and the model, step by step. */
async function againstModel(arb: fc.Arbitrary<Op>, numRuns: number): Promise<void> {
  // Each key's first use decides what a duplicate returns; the ledger returns the stored result.
  const firstResults = new Map<string, unknown>();
  await fc.assert(
      fc.asyncProperty(fc.array(arb, { minLength: 5, maxLength: 40 }), async (ops) => {
        const w = newWorld();
        const m: Model = { available: [0, 0, 0], held: [0, 0, 0], owed: [0, 0, 0], holds: new Map(), keys: new Map() };
        for (const op of ops) {
          const want = expected(m, op);
          const got = await execute(w, op);
          if ('key' in op) {
            const k = w.keyOf(op.key);
            if (want === 'duplicate') expect(got).toEqual(firstResults.get(k));
            else {
              expect(got).toEqual(want);
              if (!(want as { error?: string }).error) firstResults.set(k, got);
            }
          } else {
            expect(got).toEqual(want);
          }
          for (let u = 0; u < 3; u++) {
            const acc = await findUserAccounts(L.db, w.users[u]!);
            const owed = acc ? await outstandingDebt(L.db, acc.availableId) : 0;
            expect({ available: acc?.available ?? 0, held: acc?.held ?? 0, owed }).toEqual({ available: m.available[u], held: m.held[u], owed: m.owed[u] });
          }
        }
        expect(await invariantViolations(L.db)).toEqual([]);
      }),
      { numRuns },
    );
}

describe('ledger against a model (sequential, random command sequences)', () => {
  it('answers every command as the model does and keeps balances equal to it', () => againstModel(opArb, 60), 90_000);
  it('does so when refunds and chargebacks come while credits are held: returned holds pay the debt first', () => againstModel(debtOpArb, 30), 90_000);
});

describe('ledger under random interleavings from concurrent clients', () => {
  it('keeps every invariant, never deadlocks, and failed commands change nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(opArb, { minLength: 3, maxLength: 15 }), { minLength: 8, maxLength: 8 }), async (clients) => {
        const w = newWorld();
        const before = await L.db.selectFrom('transfers').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
        const outcomes = await Promise.all(clients.map(async (ops) => {
          const results: { op: Op; result: unknown }[] = [];
          for (const op of ops) results.push({ op, result: await execute(w, op) });
          return results;
        }));
        expect(await invariantViolations(L.db)).toEqual([]);
        // Failed commands left nothing behind: no transfer of a rejected or conflicting command exists.
        for (const { op, result } of outcomes.flat()) {
          const r = result as { status?: string; error?: string };
          if (op.t === 'reserve' && r.status === 'rejected') {
            const hold = await L.db.selectFrom('holds').select('status').where('id', '=', w.holdIds[op.hold]!).executeTakeFirstOrThrow();
            expect(['rejected', 'void', 'open', 'captured', 'released', 'expired']).toContain(hold.status);
            if (hold.status === 'rejected' || hold.status === 'void') {
              const t = await L.db.selectFrom('transfers').select('id').where('hold_id', '=', w.holdIds[op.hold]!).execute();
              expect(t).toEqual([]);
            }
          }
          if (r.error === 'LEDGER_IDEMPOTENCY_CONFLICT' && 'key' in op) {
            const postings = await L.db.selectFrom('postings').select('id').where('idempotency_key', '=', w.keyOf(op.key)).execute();
            expect(postings).toHaveLength(1);
          }
        }
        const after = await L.db.selectFrom('transfers').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
        expect(Number(after.n)).toBeGreaterThanOrEqual(Number(before.n));
      }),
      { numRuns: 30 },
    );
  }, 90_000);
});
