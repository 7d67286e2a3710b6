import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { ConfigError } from '@imlab/config';
import { sql } from '@imlab/db';
import { startBilling, type Harness } from './support/harness.js';
import { loadBillingConfig } from '../src/config.js';

let h: Harness;
beforeAll(async () => {
  h = await startBilling('checkout');
});
afterAll(async () => {
  await h?.close();
});

describe('GET /v1/pricing', () => {
  it('lists the credit packs and per-image costs without a token', async () => {
    const res = await h.api('GET', '/v1/pricing');
    expect(res.status).toBe(200);
    expect(res.body.packs.map((p: { id: string }) => p.id)).toEqual(['starter', 'creator', 'studio']);
    expect(res.body.packs[0]).toEqual({ id: 'starter', credits: 100, price: 500, currency: 'usd', name: { en: 'Starter pack', zh: '入门包' } });
    const draft = res.body.imageCosts.models.find((m: { id: string }) => m.id === 'imlab-draft');
    expect(draft.creditsPerImage).toBeGreaterThan(0);
    expect(res.body.imageCosts.sizes).toContain('1024x1024');
    // PRICES_TAX_BEHAVIOR=inclusive and no Stripe Tax by default: the page says prices include tax
    expect(res.body.tax).toEqual({ pricesInclude: true, calculatedAtCheckout: false });
  });
});

describe('PRICING_PACKS', () => {
  const base = { NODE_ENV: 'test' };
  it('overrides the default catalog', () => {
    const packs = [{ id: 'mini', credits: 10, price: 600, currency: 'cny', name: { en: 'Mini', zh: '迷你包' } }];
    const config = loadBillingConfig({ ...base, PRICING_PACKS: JSON.stringify(packs) });
    expect(config.PRICING_PACKS).toEqual(packs);
  });
  it.each([
    ['not JSON', '{nope'],
    ['an empty list', '[]'],
    ['a negative price', JSON.stringify([{ id: 'x', credits: 1, price: -5, currency: 'usd', name: { en: 'x', zh: 'x' } }])],
    ['a missing Chinese name', JSON.stringify([{ id: 'x', credits: 1, price: 5, currency: 'usd', name: { en: 'x' } }])],
    [
      'duplicate ids',
      JSON.stringify([
        { id: 'x', credits: 1, price: 5, currency: 'usd', name: { en: 'x', zh: 'x' } },
        { id: 'x', credits: 2, price: 9, currency: 'usd', name: { en: 'y', zh: 'y' } },
      ]),
    ],
  ])('refuses to start with %s, naming the variable', (_what, value) => {
    let err: unknown;
    try {
      loadBillingConfig({ ...base, PRICING_PACKS: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(Object.keys((err as ConfigError).problems)).toEqual(['PRICING_PACKS']);
  });
  it('refuses a Checkout Session lifetime Stripe would reject', () => {
    expect(() => loadBillingConfig({ ...base, CHECKOUT_SESSION_TTL: '10m' })).toThrow(/CHECKOUT_SESSION_TTL/);
    // Exactly Stripe's minimum leaves no margin for the trip (retries, clock skew).
    expect(() => loadBillingConfig({ ...base, CHECKOUT_SESSION_TTL: '30m' })).toThrow(/CHECKOUT_SESSION_TTL/);
    expect(() => loadBillingConfig({ ...base, CHECKOUT_SESSION_TTL: '24h' })).toThrow(/CHECKOUT_SESSION_TTL/);
    expect(loadBillingConfig({ ...base, CHECKOUT_SESSION_TTL: '2h' }).CHECKOUT_SESSION_TTL).toBe(7200);
  });
  it('drains long enough at shutdown for a checkout waiting on Stripe through every attempt', () => {
    expect(loadBillingConfig(base).SHUTDOWN_GRACE_MS).toBeGreaterThanOrEqual(20_000 * 3);
    // the 10 s every other service drains for would cut a checkout off mid-way
    expect(() => loadBillingConfig({ ...base, SHUTDOWN_GRACE_MS: '10000' })).toThrow(/SHUTDOWN_GRACE_MS.*at least 65000/);
    expect(loadBillingConfig({ ...base, SHUTDOWN_GRACE_MS: '20000', STRIPE_TIMEOUT_MS: '5000', STRIPE_MAX_NETWORK_RETRIES: '1' }).SHUTDOWN_GRACE_MS).toBe(20_000);
  });
  it('requires the Stripe keys in production', () => {
    expect(() => loadBillingConfig({ NODE_ENV: 'production' })).toThrow(/STRIPE_SECRET_KEY[\s\S]*STRIPE_WEBHOOK_SECRET|STRIPE_WEBHOOK_SECRET[\s\S]*STRIPE_SECRET_KEY/);
  });
});

describe('POST /v1/billing/checkout', () => {
  it('answers 401 without a token and creates nothing', async () => {
    const before = h.stripe.requests.length;
    const res = await h.api('POST', '/v1/billing/checkout', { body: { packId: 'starter' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.body.code).toBe('UNAUTHENTICATED');
    expect(await h.count('orders')).toBe(0);
    expect(h.stripe.requests.length).toBe(before);
  });

  it('answers 401 for a token minted for another service, or not signed by auth', async () => {
    const userId = h.newUser();
    const forLedger = await h.issuer.sign({ sub: userId, aud: 'credits-ledger' });
    expect((await h.api('POST', '/v1/billing/checkout', { body: { packId: 'starter' }, token: forLedger })).status).toBe(401);
    const hs256 = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    expect((await h.api('POST', '/v1/billing/checkout', { body: { packId: 'starter' }, token: hs256 })).status).toBe(401);
    expect(await h.count('orders')).toBe(0);
  });

  it('answers 404 for an unknown pack and creates nothing, locally or at Stripe', async () => {
    const before = h.stripe.requests.length;
    const res = await h.api('POST', '/v1/billing/checkout', { userId: h.newUser(), body: { packId: 'platinum' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ code: 'BILLING_PACK_NOT_FOUND', status: 404 });
    expect(res.body.requestId).toBeTruthy();
    expect(await h.count('orders')).toBe(0);
    expect(h.stripe.requests.length).toBe(before);
  });

  it.each([
    ['no packId', {}],
    ['an extra field', { packId: 'starter', price: 1 }],
    ['a wrong type', { packId: { id: 'starter' } }],
    ['an unknown locale', { packId: 'starter', locale: 'fr' }],
  ])('answers 400 for %s and creates nothing', async (_what, body) => {
    const res = await h.api('POST', '/v1/billing/checkout', { userId: h.newUser(), body });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(await h.count('orders')).toBe(0);
  });

  it('creates a pending order and a payment-mode Checkout Session keyed by the order id', async () => {
    const userId = h.newUser();
    const res = await h.api('POST', '/v1/billing/checkout', { userId, body: { packId: 'creator', locale: 'zh' } });
    expect(res.status).toBe(201);
    const { orderId, url } = res.body;
    const order = await h.order(orderId);
    expect(order).toMatchObject({ user_id: userId, pack_id: 'creator', credits: 500, amount: 2000, currency: 'usd', status: 'pending', paid_at: null });
    expect(url).toBe(`https://checkout.stripe.com/c/pay/${order.stripe_session_id}`);

    const call = h.stripe.requests.find((r) => r.method === 'POST' && r.params.client_reference_id === orderId)!;
    expect(call.path).toBe('/v1/checkout/sessions');
    expect(call.idempotencyKey).toBe(orderId);
    expect(call.authorization).toBe('Bearer sk_test_billing_fake_key');
    expect(call.params).toMatchObject({
      mode: 'payment',
      'metadata[orderId]': orderId,
      'line_items[0][quantity]': '1',
      'line_items[0][price_data][currency]': 'usd',
      'line_items[0][price_data][unit_amount]': '2000',
      'line_items[0][price_data][product_data][name]': '创作者包',
      locale: 'zh',
    });
    expect(call.params.success_url).toBe(`https://imagemakerlab.test/billing/success?order=${orderId}`);
    expect(call.params.cancel_url).toBe(`https://imagemakerlab.test/billing/cancel?order=${orderId}`);
  });

  it('answers 502 when Stripe fails, and the order is marked failed rather than left pending', async () => {
    h.stripe.failCreates(1);
    const userId = h.newUser();
    const res = await h.api('POST', '/v1/billing/checkout', { userId, body: { packId: 'starter' } });
    expect(res.status).toBe(502);
    expect(res.body.code).toBe('BILLING_STRIPE_UNAVAILABLE');
    const rows = await h.db.selectFrom('orders').selectAll().where('user_id', '=', userId).execute();
    expect(rows.map((o) => o.status)).toEqual(['failed']);
  });
});

describe('POST /v1/billing/checkout with an Idempotency-Key', () => {
  const creates = (orderId: string) => h.stripe.requests.filter((r) => r.method === 'POST' && r.path === '/v1/checkout/sessions' && r.idempotencyKey === orderId);

  it('answers a repeated request (a double click, a retry) with the same order and page, opening one session', async () => {
    const userId = h.newUser();
    const headers = { 'idempotency-key': 'buy-creator-1' };
    const first = await h.api('POST', '/v1/billing/checkout', { userId, body: { packId: 'creator' }, headers });
    expect(first.status).toBe(201);
    const again = await h.api('POST', '/v1/billing/checkout', { userId, body: { packId: 'creator' }, headers });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await h.db.selectFrom('orders').select('id').where('user_id', '=', userId).execute()).toHaveLength(1);
    expect(creates(first.body.orderId)).toHaveLength(1);
    // The key is the person's: someone else using the same one gets their own order.
    const other = await h.api('POST', '/v1/billing/checkout', { userId: h.newUser(), body: { packId: 'creator' }, headers });
    expect(other.status).toBe(201);
    expect(other.body.orderId).not.toBe(first.body.orderId);
  });

  it('under concurrent repeats of one key, makes one order and one session; the others get it or are asked to retry', async () => {
    const userId = h.newUser();
    const headers = { 'idempotency-key': 'five-clicks' };
    const answers = await Promise.all(Array.from({ length: 5 }, () => h.api('POST', '/v1/billing/checkout', { userId, body: { packId: 'starter' }, headers })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.every((s) => s === 201 || s === 200 || s === 409)).toBe(true);
    const orders = await h.db.selectFrom('orders').selectAll().where('user_id', '=', userId).execute();
    expect(orders).toHaveLength(1);
    for (const a of answers.filter((x) => x.status < 300)) expect(a.body).toEqual({ orderId: orders[0]!.id, url: orders[0]!.checkout_url });
    expect(creates(orders[0]!.id)).toHaveLength(1);
    for (const a of answers.filter((x) => x.status === 409)) expect(a.body).toMatchObject({ code: 'BILLING_CHECKOUT_IN_PROGRESS' });
  });

  it('refuses the same key for another request with 422, creating nothing', async () => {
    const userId = h.newUser();
    const headers = { 'idempotency-key': 'buy-1' };
    expect((await h.api('POST', '/v1/billing/checkout', { userId, body: { packId: 'starter' }, headers })).status).toBe(201);
    const before = h.stripe.requests.length;
    const other = await h.api('POST', '/v1/billing/checkout', { userId, body: { packId: 'creator' }, headers });
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ code: 'BILLING_IDEMPOTENCY_KEY_REUSED' });
    expect(await h.db.selectFrom('orders').select('id').where('user_id', '=', userId).execute()).toHaveLength(1);
    expect(h.stripe.requests.length).toBe(before);
    const bad = await h.api('POST', '/v1/billing/checkout', { userId, body: { packId: 'starter' }, headers: { 'idempotency-key': 'has space' } });
    expect(bad.status).toBe(400);
  });

  it('retried after Stripe failed, asks Stripe again for the same order with the same parameters', async () => {
    const userId = h.newUser();
    const headers = { 'idempotency-key': 'buy-after-outage' };
    h.stripe.failCreates(1);
    const failed = await h.api('POST', '/v1/billing/checkout', { userId, body: { packId: 'starter' }, headers });
    expect(failed.status).toBe(502);
    const retried = await h.api('POST', '/v1/billing/checkout', { userId, body: { packId: 'starter' }, headers });
    expect(retried.status).toBe(200);
    const orders = await h.db.selectFrom('orders').selectAll().where('user_id', '=', userId).execute();
    expect(orders).toHaveLength(1);
    expect(orders[0]).toMatchObject({ id: retried.body.orderId, status: 'pending', stripe_session_id: expect.any(String) });
    // Both creates under the order's Stripe idempotency key, with identical parameters (expiry included):
    // had the first reached Stripe, Stripe would answer the same session.
    const calls = creates(retried.body.orderId);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.params).toEqual(calls[0]!.params);
  });

  it('answers 422 for a checkout that is over (paid, or its page expired), 409 while the first request is still opening it', async () => {
    const userId = h.newUser();
    const buy = (key: string) => h.api('POST', '/v1/billing/checkout', { userId, body: { packId: 'starter' }, headers: { 'idempotency-key': key } });
    // paid: the page is finished
    const paid = await buy('paid-one');
    await sql`update orders set status = 'paid', paid_at = now() where id = ${paid.body.orderId}`.execute(h.db);
    expect((await buy('paid-one')).body).toMatchObject({ status: 422, code: 'BILLING_CHECKOUT_OVER' });
    // still pending, but the session's time is up (the sweeper has not looked yet)
    const old = await buy('old-one');
    await sql`update orders set created_at = now() - make_interval(secs => ${h.config.CHECKOUT_SESSION_TTL + 1}) where id = ${old.body.orderId}`.execute(h.db);
    expect((await buy('old-one')).body).toMatchObject({ status: 422, code: 'BILLING_CHECKOUT_OVER' });
    // the first request has not got its page yet
    const opening = await buy('opening-one');
    await sql`update orders set checkout_url = null, stripe_session_id = null where id = ${opening.body.orderId}`.execute(h.db);
    const busy = await buy('opening-one');
    expect(busy.status).toBe(409);
    expect(busy.body).toMatchObject({ code: 'BILLING_CHECKOUT_IN_PROGRESS' });
    // a failed create retried too late for Stripe to take the session (under 30 minutes left)
    h.stripe.failCreates(1);
    const late = await buy('late-one');
    expect(late.status).toBe(502);
    const lateOrder = (await h.db.selectFrom('orders').select('id').where('user_id', '=', userId).where('idempotency_key', '=', 'late-one').executeTakeFirstOrThrow()).id;
    await sql`update orders set created_at = now() - make_interval(secs => ${h.config.CHECKOUT_SESSION_TTL - 20 * 60}) where id = ${lateOrder}`.execute(h.db);
    const before = h.stripe.requests.length;
    expect((await buy('late-one')).body).toMatchObject({ status: 422, code: 'BILLING_CHECKOUT_OVER' });
    expect(h.stripe.requests.length).toBe(before);
  });

  it('a retry asks Stripe for the price the order holds, whatever the catalog says now', async () => {
    const userId = h.newUser();
    const headers = { 'idempotency-key': 'price-kept' };
    h.stripe.failCreates(1);
    expect((await h.api('POST', '/v1/billing/checkout', { userId, body: { packId: 'starter' }, headers })).status).toBe(502);
    const order = await h.db.selectFrom('orders').selectAll().where('user_id', '=', userId).executeTakeFirstOrThrow();
    await sql`update orders set amount = ${order.amount + 100} where id = ${order.id}`.execute(h.db); // as if the catalog had changed since
    expect((await h.api('POST', '/v1/billing/checkout', { userId, body: { packId: 'starter' }, headers })).status).toBe(200);
    expect(creates(order.id).at(-1)!.params['line_items[0][price_data][unit_amount]']).toBe(String(order.amount + 100));
  });

  it('forgets the key with the person when they are purged', async () => {
    const userId = h.newUser();
    const res = await h.api('POST', '/v1/billing/checkout', { userId, body: { packId: 'starter' }, headers: { 'idempotency-key': 'mine@example.com' } });
    expect(res.status).toBe(201);
    await h.db.transaction().execute((tx) => h.ctx.bus.send(tx, 'user.purge', { userId }));
    await h.settled();
    expect(await h.order(res.body.orderId)).toMatchObject({ user_id: null, idempotency_key: null, request_hash: null, checkout_url: null });
  });
});

describe('GET /v1/billing/orders', () => {
  it('pages through the caller\'s own orders, newest first, and never another person\'s', async () => {
    const me = h.newUser();
    const other = h.newUser();
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) mine.push((await h.checkout(me)).orderId);
    await h.checkout(other);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: Awaited<ReturnType<Harness['api']>> = await h.api('GET', `/v1/billing/orders?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { userId: me });
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((o: { id: string }) => o.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...mine].reverse());

    const first = (await h.api('GET', '/v1/billing/orders?limit=1', { userId: me })).body.items[0];
    expect(first).toEqual({
      id: mine[4],
      packId: 'starter',
      credits: 100,
      amount: 500,
      currency: 'usd',
      status: 'pending',
      refundedAmount: 0,
      createdAt: expect.any(String),
      paidAt: null,
    });
  });

  it('answers 401 without a token and 400 for a malformed cursor', async () => {
    expect((await h.api('GET', '/v1/billing/orders')).status).toBe(401);
    const bad = await h.api('GET', '/v1/billing/orders?cursor=not-an-id', { userId: h.newUser() });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('INVALID_CURSOR');
    expect((await h.api('GET', '/v1/billing/orders?cursor=&limit=20', { userId: h.newUser() })).status).toBe(200);
  });
});
