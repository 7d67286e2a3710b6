import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { billingFraudSignals } from '../src/fraud/fraud.js';
import { startBilling } from './support/harness.js';

let B: Awaited<ReturnType<typeof startBilling>>;
beforeAll(async () => {
  B = await startBilling('billing-fraud');
});
afterAll(async () => {
  await B?.close();
});

const order = (userId: string, status: 'failed' | 'paid' | 'disputed', credits = 100, paidAt: Date | null = null) => ({
  id: randomUUID(),
  user_id: userId,
  pack_id: 'starter',
  credits,
  amount: 500,
  currency: 'usd',
  status,
  stripe_session_id: null,
  stripe_payment_intent_id: null,
  paid_at: paidAt,
  closed_at: null,
  auto_refund_requested_at: null,
  paid_amount: null,
  paid_currency: null,
  refund_failed_at: null,
});

describe('a suspended account', () => {
  it('may not start a checkout (403 ACCOUNT_SUSPENDED) while auth marks it, and nothing is created', async () => {
    const userId = randomUUID();
    const key = `${B.ctx.bus.prefix}auth:user-suspended:${userId}`;
    await B.ctx.bus.redis.set(key, '1');
    try {
      const res = await B.api('POST', '/v1/billing/checkout', { userId, body: { packId: B.config.PRICING_PACKS[0]!.id } });
      expect(res.body).toMatchObject({ status: 403, code: 'ACCOUNT_SUSPENDED' });
      expect(await B.db.selectFrom('orders').select('id').where('user_id', '=', userId).execute()).toEqual([]);
    } finally {
      await B.ctx.bus.redis.del(key);
    }
    expect((await B.api('POST', '/v1/billing/checkout', { userId, body: { packId: B.config.PRICING_PACKS[0]!.id } })).status).toBe(201);
  });
});

describe('billing fraud signals (flags, never blocks)', () => {
  it('flags three failed payments in 30 days, and a dispute after buying 1,000 credits or more; not less', async () => {
    const failing = randomUUID();
    const twice = randomUUID();
    const heavy = randomUUID();
    const light = randomUUID();
    await B.db.insertInto('orders').values([order(failing, 'failed'), order(failing, 'failed'), order(failing, 'failed'), order(twice, 'failed'), order(twice, 'failed')]).execute();
    const heavyOrders = [order(heavy, 'paid', 600, new Date()), order(heavy, 'disputed', 600, new Date())];
    const lightOrders = [order(light, 'disputed', 100, new Date())];
    await B.db.insertInto('orders').values([...heavyOrders, ...lightOrders]).execute();
    await B.db
      .insertInto('order_disputes')
      .values([
        { id: `dp_${randomUUID()}`, order_id: heavyOrders[1]!.id, amount: 500, status: 'needs_response' },
        { id: `dp_${randomUUID()}`, order_id: lightOrders[0]!.id, amount: 500, status: 'needs_response' },
      ])
      .execute();
    const signals = await billingFraudSignals(B.db);
    expect(signals).toContainEqual(expect.objectContaining({ userId: failing, signal: 'failed-payments', count: 3 }));
    expect(signals).toContainEqual(expect.objectContaining({ userId: heavy, signal: 'dispute-after-heavy-buying', count: 1 }));
    expect(signals.map((s) => s.userId)).not.toContain(twice);
    expect(signals.map((s) => s.userId)).not.toContain(light);
  });
});
