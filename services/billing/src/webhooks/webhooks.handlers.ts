import type { Bus, Handler } from '@imlab/queue';
import type { DB } from '../db.js';
import type { Stripe } from '../stripe/stripe-client.js';
import { processStripeEvent } from './stripe-events.service.js';

/** billing.stripe-event: apply a stored, verified Stripe event (the inbox dedupes redeliveries). */
export function stripeEventHandler(bus: Bus<DB>, stripe: Stripe): Handler<'billing.stripe-event', DB> {
  return async ({ tx, payload, log }) => processStripeEvent(tx, payload.eventId, { bus, log, stripe });
}
