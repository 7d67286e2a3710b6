import type { DB } from './db.js';
import type { Bus, ConsumeOptions, Worker } from '@imlab/queue';
import type { Stripe } from './stripe/stripe-client.js';
import { grantRefusedHandler, orphanRefundHandler } from './orders/orphan-refund.handlers.js';
import { stripeEventHandler } from './webhooks/webhooks.handlers.js';
import { ledgerPostedHandler } from './reconciliation/reconciliation.handlers.js';
import { userPurgeHandler } from './privacy/privacy.handlers.js';

/** Billing's inbox: Stripe events to apply, the ledger's postings, privacy purges, and refunds of orders paid after a purge. */
export function startConsumers(bus: Bus<DB>, stripe: Stripe, opts: ConsumeOptions = {}): Worker {
  return bus.consume(
    'billing',
    {
      'billing.stripe-event': stripeEventHandler(bus, stripe),
      'ledger.posted': ledgerPostedHandler,
      'user.purge': userPurgeHandler,
      'billing.refund-orphaned-order': orphanRefundHandler(stripe),
      'ledger.grant-refused': grantRefusedHandler(bus),
    },
    opts,
  );
}
