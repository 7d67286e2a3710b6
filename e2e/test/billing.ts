// Buying credits on the running system: checkout through the gateway, a Stripe fake answering
// the SDK, signed webhooks through the gateway's raw-body route, the real ledger granting and
// clawing back, billing reconciling from the ledger's own postings.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fetch as undiciFetch } from 'undici';
import { ok } from '@imlab/client';
import { eventually, TS_NODE_ARGS } from '@imlab/testing';
import { chargeObject, newPaymentIntentId, sessionObject, signature, stripeEvent } from '../../services/billing/test/support/events.js';
import { WEBHOOK_SECRET, type E2E } from './system.js';
import { CLIENT_IPS, PASSWORD, mailText, signUpVerified, until, type Browser } from './browser.js';


export function billingSuite(e2e: E2E): void {
/** Stripe, not a browser, calling the webhook: its answer is checked against the document too. */
async function webhook(event: Record<string, unknown>, sig?: string): Promise<number> {
  const payload = JSON.stringify(event);
  const url = `${e2e.sys.gatewayUrl}/v1/billing/webhook`;
  const res = await undiciFetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': sig ?? signature(payload, WEBHOOK_SECRET), 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' },
    body: payload,
  });
  await e2e.contract.observe('POST', url, res);
  await res.arrayBuffer();
  return res.status;
}

const available = async (b: Browser) => (await ok(b.api.GET('/v1/credits/balance'))).available;

describe('buying credits', () => {
  it('pays for a pack, grants its credits exactly once, claws back a partial refund, and reconciles', async () => {
    const person = e2e.browser(CLIENT_IPS.billing);
    await signUpVerified(e2e.sys, person, 'buyer@example.com');
    await eventually(async () => (await available(person)) === 40, 20_000);

    const pricing = await ok(person.api.GET('/v1/pricing'));
    const pack = pricing.packs.find((p) => p.id === 'starter')!;
    const checkout = await person.api.POST('/v1/billing/checkout', { body: { packId: 'starter' } });
    expect(checkout.response.status).toBe(201);
    const { orderId, url } = checkout.data!;
    expect(url).toMatch(/^https:\/\//);
    const session = [...e2e.stripe.sessions.values()].find((s) => JSON.stringify(s.metadata).includes(orderId))!;
    expect(session).toBeDefined();

    const pi = newPaymentIntentId();
    const completed = stripeEvent('checkout.session.completed', sessionObject(session, { status: 'complete', payment_status: 'paid', payment_intent: pi }));
    expect(await webhook(completed, 'v1=deadbeef,t=1')).toBe(400);
    expect(await webhook(completed)).toBe(200);
    expect(await webhook(completed)).toBe(200); // Stripe retries: still one grant
    await eventually(async () => (await available(person)) === 40 + pack.credits, 20_000);

    const orders = await ok(person.api.GET('/v1/billing/orders'));
    expect(orders.items[0]).toMatchObject({ status: 'paid' });
    const receipt = await eventually(() => mailText(e2e.sys, 'buyer@example.com', 'purchase-receipt'), 20_000);
    expect(receipt).toContain(String(pack.credits));

    // half refunded: half the pack's credits come back out
    expect(await webhook(stripeEvent('charge.refunded', chargeObject({ paymentIntent: pi, amount: pack.price, amountRefunded: pack.price / 2, currency: pack.currency })))).toBe(200);
    await eventually(async () => (await available(person)) === 40 + pack.credits / 2, 20_000);
    // the same cumulative refund again changes nothing
    expect(await webhook(stripeEvent('charge.refunded', chargeObject({ paymentIntent: pi, amount: pack.price, amountRefunded: pack.price / 2, currency: pack.currency })))).toBe(200);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await available(person)).toBe(40 + pack.credits / 2);

    // finance: the order matches what the ledger posted
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const finance = e2e.browser(CLIENT_IPS.billing);
    await signUpVerified(e2e.sys, finance, 'books@example.com');
    await new Promise<void>((resolve, reject) =>
      spawn(process.execPath, [...TS_NODE_ARGS, 'services/auth/src/cli/roles.ts', 'books@example.com', 'finance'], { cwd: root, env: { ...e2e.sys.env, DATABASE_NAME: e2e.sys.databases.auth! }, stdio: 'ignore' }).on('exit', (c) =>
        c === 0 ? resolve() : reject(new Error(`roles exited ${c}`)),
      ),
    );
    expect((await finance.api.POST('/v1/auth/login', { body: { email: 'books@example.com', password: PASSWORD } })).response.status).toBe(200);
    const from = new Date(Date.now() - 3600_000).toISOString();
    const to = new Date(Date.now() + 3600_000).toISOString();
    const recon = await until(async () => {
      const r = await finance.api.GET('/v1/admin/billing/reconciliation', { params: { query: { from, to } } });
      return r.response.status === 200 && r.data!.mismatches.length === 0 && r.data!.orders.length === 1 ? r.data! : undefined;
    }, 20_000);
    expect(recon.orders[0]).toMatchObject({ orderId, matches: true, expected: { granted: pack.credits, clawedBack: pack.credits / 2 } });
    const tb = await finance.api.GET('/v1/admin/ledger/trial-balance');
    expect(tb.response.status).toBe(200);
  }, 120_000);
});
}
