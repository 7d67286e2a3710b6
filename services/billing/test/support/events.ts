import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import { fixture, type Session } from './fake-stripe.js';

const rand = (n = 12) => randomBytes(n).toString('hex');
const stripe = new Stripe('sk_test_signing_only');

/** What the fixtures carry about the cardholder: none of it may end up in billing's tables. */
export const CARDHOLDER = {
  last4: '4242',
  fingerprint: 'AOB934RVNwzk6xtn',
  name: 'Jenny Rosen',
  email: 'jenny.rosen@example.com',
  sessionEmail: 'example@example.com',
};

/** A webhook event built on the fixture's event.json, carrying `object`. */
export function stripeEvent(type: string, object: Record<string, unknown>, id = `evt_test_${rand()}`): Record<string, unknown> {
  const ev = fixture('event');
  return { ...ev, id, type, created: Math.floor(Date.now() / 1000), data: { object } };
}

/** The session as Stripe would send it in a checkout.session.* event. */
export function sessionObject(session: Session, patch: Record<string, unknown>): Record<string, unknown> {
  return { ...structuredClone(session), ...patch };
}

export function chargeObject(o: { paymentIntent: string; amount: number; amountRefunded: number; currency: string; id?: string }): Record<string, unknown> {
  const c = fixture('charge') as Record<string, unknown> & { billing_details: Record<string, unknown> };
  c.billing_details.email = CARDHOLDER.email;
  return {
    ...c,
    id: o.id ?? `ch_test_${rand()}`,
    payment_intent: o.paymentIntent,
    amount: o.amount,
    amount_captured: o.amount,
    captured: true,
    amount_refunded: o.amountRefunded,
    refunded: o.amountRefunded >= o.amount,
    currency: o.currency,
  };
}

export function disputeObject(o: { id: string; paymentIntent: string; amount: number; status: string; currency: string }): Record<string, unknown> {
  const d = fixture('dispute');
  return { ...d, id: o.id, payment_intent: o.paymentIntent, amount: o.amount, status: o.status, currency: o.currency };
}

/** The Stripe-Signature header, made by the SDK's own test helper. */
export function signature(payload: string, secret: string, timestamp?: number): string {
  return stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp ? { timestamp } : {}) });
}

export const newPaymentIntentId = () => `pi_test_${rand()}`;
export const newDisputeId = () => `dp_test_${rand()}`;
